// A connection's open streams by id. nghttp2 calls back once per header field, frame and DATA
// chunk, each naming its stream, and the calls for one stream come in runs: the last stream
// found is kept beside the table, so most look-ups cost a compare instead of a hash.

struct StreamTable {
    private var calls: [Int32: UpstreamCall] = [:]
    private var lastID: Int32 = 0
    private unowned(unsafe) var lastCall: UpstreamCall?

    var count: Int { calls.count }
    var isEmpty: Bool { calls.isEmpty }
    var all: [Int32: UpstreamCall] { calls }

    subscript(id: Int32) -> UpstreamCall? {
        mutating get {
            if id == lastID, let lastCall { return lastCall }
            guard let call = calls[id] else { return nil }
            (lastID, lastCall) = (id, call)
            return call
        }
    }

    mutating func insert(_ call: UpstreamCall, id: Int32) {
        calls[id] = call
        (lastID, lastCall) = (id, call)
    }

    mutating func removeValue(forKey id: Int32) -> UpstreamCall? {
        if id == lastID { lastCall = nil }
        return calls.removeValue(forKey: id)
    }

    mutating func removeAll() {
        lastCall = nil
        calls.removeAll()
    }
}
