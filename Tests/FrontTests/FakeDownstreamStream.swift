@testable import Front
import FerryCore

/// A DownstreamStream that records what an exchange sends, for tests with no socket.
final class FakeDownstreamStream: DownstreamStream {
    enum Event: Equatable {
        case head(status: Int, headers: [String: String], contentLength: Int?)
        case data([UInt8])
        case end(trailers: [String: String])
        case abort
    }

    var events: [Event] = []
    var queuedBytes = 0
    var bufferLimitBytes = 64 * 1024
    var bufferLimitHits = 0
    var forwardedRequestBytes = 0

    func emptyHeaders() -> HeaderFields {
        HeaderFields()
    }

    func sendHead(status: Int, headers: consuming HeaderFields, contentLength: Int?) {
        events.append(.head(status: status, headers: headers.dictionary, contentLength: contentLength))
    }

    func sendData(_ bytes: UnsafeRawBufferPointer) {
        events.append(.data(Array(bytes)))
    }

    func sendEnd(trailers: HeaderFields) {
        events.append(.end(trailers: trailers.dictionary))
    }

    func abort() {
        events.append(.abort)
    }

    func bufferLimitReached() {
        bufferLimitHits += 1
    }

    func requestBytesForwarded(_ count: Int) {
        forwardedRequestBytes += count
    }
}

extension HeaderFields {
    /// The fields by name (the last value wins), for assertions.
    var dictionary: [String: String] {
        var fields: [String: String] = [:]
        for index in 0..<count { fields[self[index].name] = self[index].value }
        return fields
    }

    init(_ pairs: KeyValuePairs<String, String>) {
        self.init()
        for (name, value) in pairs { append(name: name, value: value) }
    }
}
