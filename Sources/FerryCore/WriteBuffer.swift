// Bytes being assembled for one write (a response head, a chunk's framing, a trailer section),
// in memory this value owns and reuses: each piece is a memcpy. `[UInt8]` costs about 90
// instructions per `append(contentsOf:)` and as many per `removeAll(keepingCapacity:)`, through
// the standard library's generic paths, and a response is written in a dozen pieces (issue 19).

/// A growable run of bytes; not copyable, so that its memory has one owner. Appending is
/// inlinable: its callers are in other modules (the connections), and a call costs more than
/// the copy of a few bytes it makes.
public struct WriteBuffer: ~Copyable {
    @usableFromInline var base: UnsafeMutablePointer<UInt8>
    @usableFromInline var used = 0
    @usableFromInline var capacity: Int

    public init(capacity: Int = 512) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    public var count: Int { used }

    public var isEmpty: Bool { used == 0 }

    /// Empties it; its memory is kept for the next bytes.
    public mutating func removeAll() {
        used = 0
    }

    @inlinable
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress else { return }
        UnsafeMutableRawPointer(reserve(bytes.count)).copyMemory(from: source, byteCount: bytes.count)
        used += bytes.count
    }

    @inlinable
    public mutating func append(ascii literal: StaticString) {
        append(UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    @inlinable
    public mutating func append(_ byte: UInt8) {
        reserve(1).pointee = byte
        used += 1
    }

    /// Writes at most `maximum` bytes in place: `body` gets room for them and returns how many
    /// it wrote.
    @inlinable
    public mutating func append(upTo maximum: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        let written = body(reserve(maximum))
        precondition(written <= maximum, "wrote past the room it was given")
        used += written
    }

    /// Where the next `needed` bytes go, after growing when there is not room for them.
    @inlinable
    mutating func reserve(_ needed: Int) -> UnsafeMutablePointer<UInt8> {
        if used + needed > capacity { grow(toHold: used + needed) }
        return base + used
    }

    @usableFromInline
    mutating func grow(toHold needed: Int) {
        var grown = capacity * 2
        while grown < needed { grown *= 2 }
        let larger = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        larger.update(from: base, count: used)
        base.deallocate()
        base = larger
        capacity = grown
    }

    /// The bytes written, read in place.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: used))
    }

    /// A copy of the bytes written.
    public var bytes: [UInt8] {
        withUnsafeBytes { Array($0) }
    }
}
