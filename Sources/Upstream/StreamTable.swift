// A connection's open streams by id. nghttp2 calls back once per frame, header block and DATA
// chunk, each naming its stream, so the look-up runs several times per call.
//
// An open-addressing table indexed by the id itself rather than a Dictionary, which hashes
// each Int32 with SipHash: the streams a client opens have odd ids counting up by two (RFC 9113
// §5.1.1), so `id >> 1` puts the streams open at once in neighbouring slots, and a look-up is
// a mask and a compare. Linear probing, with backward-shift deletion (no tombstones); the table
// doubles when half full.

struct StreamTable {
    /// Stream ids by slot; 0 marks a free slot (stream 0 is the connection, never a stream).
    private var ids: [Int32]
    private var calls: [UpstreamCall?]
    private(set) var count = 0

    init() {
        ids = Array(repeating: 0, count: 8)
        calls = Array(repeating: nil, count: 8)
    }

    var isEmpty: Bool { count == 0 }

    private var mask: Int { ids.count - 1 }

    private func home(_ id: Int32) -> Int { Int(UInt32(bitPattern: id) >> 1) & mask }

    /// The slot holding `id`, or the free slot where it would go.
    private func slot(of id: Int32) -> Int {
        var slot = home(id)
        while ids[slot] != 0 && ids[slot] != id { slot = (slot + 1) & mask }
        return slot
    }

    subscript(id: Int32) -> UpstreamCall? {
        let slot = slot(of: id)
        return ids[slot] == id ? calls[slot] : nil
    }

    /// Every open stream, by id.
    var all: [(id: Int32, call: UpstreamCall)] {
        ids.indices.compactMap { slot in calls[slot].map { (ids[slot], $0) } }.sorted { $0.id < $1.id }
    }

    mutating func insert(_ call: UpstreamCall, id: Int32) {
        precondition(id > 0, "stream 0 is the connection")
        if (count + 1) * 2 > ids.count { grow() }
        let slot = slot(of: id)
        if ids[slot] != id { count += 1 }
        ids[slot] = id
        calls[slot] = call
    }

    mutating func removeValue(forKey id: Int32) -> UpstreamCall? {
        var hole = slot(of: id)
        guard ids[hole] == id else { return nil }
        let call = calls[hole]
        count -= 1
        // Backward shift: each later entry of the run that may sit at the hole moves into it,
        // so that no probe for it stops early at a free slot.
        var next = (hole + 1) & mask
        while ids[next] != 0 {
            let wanted = home(ids[next])
            // Movable unless its home lies cyclically after the hole, up to `next`.
            let fromHole = (next - hole) & mask
            let fromHome = (next - wanted) & mask
            if fromHome >= fromHole {
                ids[hole] = ids[next]
                calls[hole] = calls[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        ids[hole] = 0
        calls[hole] = nil
        return call
    }

    mutating func removeAll() {
        for slot in ids.indices {
            ids[slot] = 0
            calls[slot] = nil
        }
        count = 0
    }

    private mutating func grow() {
        let entries = zip(ids, calls).filter { $0.0 != 0 }
        ids = Array(repeating: 0, count: ids.count * 2)
        calls = Array(repeating: nil, count: ids.count)
        count = 0
        for (id, call) in entries { insert(call!, id: id) }
    }
}
