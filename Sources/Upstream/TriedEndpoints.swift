// The endpoints a call's attempts went to, each once, so that a retry can go elsewhere. The
// first is kept inline: most calls make one attempt, and then cost no array.
import Loop

struct TriedEndpoints: Sequence {
    private var first: SocketAddress?
    private var more: [SocketAddress] = []

    var isEmpty: Bool { first == nil }
    var count: Int { first == nil ? 0 : 1 + more.count }

    mutating func insert(_ endpoint: SocketAddress) {
        guard let first else {
            first = endpoint
            return
        }
        if first != endpoint && !more.contains(endpoint) { more.append(endpoint) }
    }

    struct Iterator: IteratorProtocol {
        fileprivate var first: SocketAddress?
        fileprivate var more: IndexingIterator<[SocketAddress]>

        mutating func next() -> SocketAddress? {
            if let endpoint = first {
                first = nil
                return endpoint
            }
            return more.next()
        }
    }

    func makeIterator() -> Iterator { Iterator(first: first, more: more.makeIterator()) }
}
