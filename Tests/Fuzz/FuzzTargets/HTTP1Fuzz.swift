// The HTTP/1.1 request parser on arbitrary bytes: whole, and split into pieces whose size the
// first byte picks. Both must give the same requests (bodies joined) and stop at the same error:
// the parser may not depend on how TCP cut the stream.
import HTTP1

extension FuzzHarness {
    func fuzzHTTP1(_ data: UnsafeRawBufferPointer) {
        guard let first = data.first else { return }
        let input = UnsafeRawBufferPointer(rebasing: data.dropFirst())
        let limits = HTTP1RequestParser.Limits(maxHeaderBytes: 2048, maxHeaderFields: 16)
        let whole = parse(input, pieceSize: input.count, limits: limits)
        let split = parse(input, pieceSize: Int(first % 23) + 1, limits: limits)
        agree(whole.events == split.events, "requests differ when the input is split: \(whole.events) vs \(split.events)")
        agree(
            whole.errorStatus == split.errorStatus,
            "errors differ when the input is split: \(String(describing: whole.errorStatus)) vs \(String(describing: split.errorStatus))")
        let bodyBytes = whole.events.reduce(0) { total, event in
            if case .body(let bytes) = event { return total + bytes.count }
            return total
        }
        agree(bodyBytes <= input.count, "more body bytes than input bytes")
    }

    private struct Outcome {
        var events: [HTTP1RequestParser.Event] = []
        /// The status of the error that stopped the parser (offsets aside: a split input is
        /// compacted differently).
        var errorStatus: Int?

        /// Adjacent body pieces are joined: their cut points are the split's, not the request's.
        mutating func append(_ event: HTTP1RequestParser.Event) {
            if case .body(let more) = event, case .body(let bytes)? = events.last {
                events[events.count - 1] = .body(bytes + more)
            } else {
                events.append(event)
            }
        }
    }

    private func parse(_ input: UnsafeRawBufferPointer, pieceSize: Int, limits: HTTP1RequestParser.Limits) -> Outcome {
        var parser = HTTP1RequestParser(limits: limits)
        var outcome = Outcome()
        var offset = 0
        repeat {
            let end = min(input.count, offset + max(pieceSize, 1))
            parser.append(UnsafeRawBufferPointer(rebasing: input[offset..<end]))
            offset = end
            do {
                while let event = try parser.next() { outcome.append(event) }
            } catch {
                outcome.errorStatus = error.status
                return outcome
            }
        } while offset < input.count
        return outcome
    }
}
