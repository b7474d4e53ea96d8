// A connection's plain-text output between the loop's flushes: the pieces a response is written
// in (head, message, trailers) are copied into one block of memory the loop lends, and leave with
// one `send` when the iteration ends. Appending is a memcpy, where an evbuffer costs a call per
// piece and a chain allocated and freed per response; the block goes back to the loop once
// sent, so an idle connection holds none.

/// Bytes written since the last flush, in a block lent by the loop (grown past it when a write
/// is larger: that copy is the connection's own and is freed when sent).
struct StagedOutput {
    private(set) var base: UnsafeMutableRawPointer?
    /// 32 bits each, so that every connection carries 16 bytes for this, not 24 (issue 19: an
    /// idle connection costs ≤ 1 KiB). A loop iteration's output stays far below 4 GiB: the
    /// connections' buffer limits stop their producers long before.
    private var stagedCount: UInt32 = 0
    private var capacity: UInt32 = 0

    var count: Int { Int(stagedCount) }

    var isEmpty: Bool { stagedCount == 0 }

    mutating func append(_ bytes: UnsafeRawBufferPointer, loop: EventLoop) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        let needed = count + bytes.count
        if needed > Int(capacity) { grow(to: needed, loop: loop) }
        (base! + count).copyMemory(from: source, byteCount: bytes.count)
        stagedCount = UInt32(needed)
    }

    private mutating func grow(to needed: Int, loop: EventLoop) {
        if base == nil && needed <= EventLoop.outputBlockSize {
            base = loop.takeOutputBlock()
            capacity = UInt32(EventLoop.outputBlockSize)
            return
        }
        var grownCapacity = max(Int(capacity) * 2, EventLoop.outputBlockSize)
        while grownCapacity < needed { grownCapacity *= 2 }
        let grown = UnsafeMutableRawPointer.allocate(byteCount: grownCapacity, alignment: 16)
        if let base {
            grown.copyMemory(from: base, byteCount: count)
            loop.giveBack(outputBlock: base, capacity: Int(capacity))
        }
        base = grown
        capacity = UInt32(grownCapacity)
    }

    /// Empties it: the block goes back to the loop (a grown one is freed).
    mutating func release(to loop: EventLoop) {
        if let base { loop.giveBack(outputBlock: base, capacity: Int(capacity)) }
        base = nil
        stagedCount = 0
        capacity = 0
    }
}
