// A strict, incremental HTTP/1.1 request parser (RFC 9112). Stricter than evhttp on purpose:
// bare LF, obs-fold, whitespace before the colon, duplicate or signed Content-Length,
// Content-Length with Transfer-Encoding and missing Host are all rejected (request smuggling
// and cache poisoning live in the gaps between lenient parsers).
import FerryCore

/// How the body of a request is delimited (RFC 9112 §6.3).
public enum HTTP1BodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
}

/// Turns a byte stream into request heads, body chunks and request ends.
///
/// Bytes go in with `append`; `next()` returns one event at a time, or nil when it needs
/// more bytes. After an error the parser stays failed: the connection must answer and close.
public struct HTTP1RequestParser {
    public struct Limits: Sendable, Equatable {
        public var maxHeaderBytes: Int
        public var maxHeaderFields: Int

        public init(maxHeaderBytes: Int = 60 * 1024, maxHeaderFields: Int = 100) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderFields = maxHeaderFields
        }
    }

    public enum Event: Equatable {
        case head(HTTP1RequestHead, HTTP1BodyFraming)
        case body(ArraySlice<UInt8>)
        case end
    }

    private enum State {
        case head
        /// The body is complete; `.end` is the next event.
        case endOfMessage
        case fixedBody(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers(fields: Int)
        case failed(HTTP1ParseError)
    }

    public let limits: Limits
    private var state: State = .head
    private var buffer: [UInt8] = []
    private var readIndex = 0
    /// Where the search for the end of the header section resumes.
    private var headScanIndex = 0

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Bytes received but not yet returned as events.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Whether the parser is between requests with nothing buffered.
    public var isIdle: Bool {
        if case .head = state { return bufferedByteCount == 0 }
        return false
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// The next event, or nil when more bytes are needed.
    public mutating func next() throws(HTTP1ParseError) -> Event? {
        do {
            return try step()
        } catch {
            state = .failed(error)
            throw error
        }
    }

    private mutating func compact() {
        if readIndex > 0 && (readIndex == buffer.count || readIndex >= 64 * 1024) {
            buffer.removeFirst(readIndex)
            headScanIndex = max(0, headScanIndex - readIndex)
            readIndex = 0
        }
    }

    private mutating func step() throws(HTTP1ParseError) -> Event? {
        switch state {
        case .failed(let error):
            throw error
        case .head:
            return try parseHead()
        case .endOfMessage:
            state = .head
            headScanIndex = readIndex
            return .end
        case .fixedBody(let remaining):
            return takeBody(remaining: remaining, then: .endOfMessage, else: { .fixedBody(remaining: $0) })
        case .chunkSize:
            guard let line = try takeLine(limit: 1024) else { return nil }
            let size = try parseChunkSize(line)
            if size == 0 {
                state = .trailers(fields: 0)
                return try step()
            }
            state = .chunkData(remaining: size)
            return try step()
        case .chunkData(let remaining):
            return takeBody(remaining: remaining, then: .chunkDataEnd, else: { .chunkData(remaining: $0) })
        case .chunkDataEnd:
            guard bufferedByteCount >= 2 else { return nil }
            guard buffer[readIndex] == cr, buffer[readIndex + 1] == lf else {
                throw .invalidChunk(offset: readIndex)
            }
            readIndex += 2
            state = .chunkSize
            return try step()
        case .trailers(let fields):
            guard let line = try takeLine(limit: limits.maxHeaderBytes) else { return nil }
            if line.isEmpty {
                state = .endOfMessage
                return try step()
            }
            // Trailer fields are read for framing only; they are not forwarded (RFC 9110 §6.5.1).
            guard fields + 1 <= limits.maxHeaderFields else { throw .tooManyHeaderFields(limit: limits.maxHeaderFields) }
            _ = try parseField(line, offset: readIndex)
            state = .trailers(fields: fields + 1)
            return try step()
        }
    }

    private mutating func parseHead() throws(HTTP1ParseError) -> Event? {
        // RFC 9112 §2.2: ignore empty lines received before the request line.
        while bufferedByteCount >= 2 && buffer[readIndex] == cr && buffer[readIndex + 1] == lf {
            readIndex += 2
        }
        headScanIndex = max(headScanIndex, readIndex)
        guard let headEnd = try findHeadEnd() else {
            if bufferedByteCount > limits.maxHeaderBytes {
                throw .headerSectionTooLarge(limit: limits.maxHeaderBytes)
            }
            return nil
        }
        guard headEnd - readIndex <= limits.maxHeaderBytes else {
            throw .headerSectionTooLarge(limit: limits.maxHeaderBytes)
        }
        let start = readIndex
        var lineStart = start
        var lines: [Range<Int>] = []
        var index = start
        while index < headEnd {
            if buffer[index] == lf {
                lines.append(lineStart..<index - 1)
                lineStart = index + 1
            }
            index += 1
        }
        // The last range is the empty line that ends the section.
        lines.removeLast()
        guard let requestLine = lines.first else { throw .malformedRequestLine }
        var head = try parseRequestLine(requestLine)
        guard lines.count - 1 <= limits.maxHeaderFields else {
            throw .tooManyHeaderFields(limit: limits.maxHeaderFields)
        }
        for line in lines.dropFirst() {
            let field = try parseField(buffer[line], offset: line.lowerBound - start)
            head.headers.append(name: field.name, value: field.value)
        }
        readIndex = headEnd
        headScanIndex = headEnd
        let framing = try bodyFraming(of: head)
        switch framing {
        case .none, .contentLength(0):
            state = .endOfMessage
        case .contentLength(let length):
            state = .fixedBody(remaining: length)
        case .chunked:
            state = .chunkSize
        }
        return .head(head, framing == .contentLength(0) ? .none : framing)
    }

    /// The index just past the CRLF CRLF that ends the header section, or nil if not yet received.
    private mutating func findHeadEnd() throws(HTTP1ParseError) -> Int? {
        var index = headScanIndex
        while index < buffer.count {
            if buffer[index] == lf {
                guard index > readIndex, buffer[index - 1] == cr else {
                    throw .bareLineFeed(offset: index - readIndex)
                }
                if index - readIndex >= 3 && buffer[index - 2] == lf && buffer[index - 3] == cr {
                    return index + 1
                }
            }
            index += 1
        }
        headScanIndex = index
        return nil
    }

    private func parseRequestLine(_ range: Range<Int>) throws(HTTP1ParseError) -> HTTP1RequestHead {
        let line = buffer[range]
        let parts = line.split(separator: sp, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].allSatisfy(isTokenByte),
              let first = parts[1].first, first == UInt8(ascii: "/") || (parts[1].count == 1 && first == UInt8(ascii: "*")),
              parts[1].allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw .malformedRequestLine
        }
        let versionText = String(decoding: parts[2], as: UTF8.self)
        let version: HTTPVersion
        switch versionText {
        case "HTTP/1.1": version = .http1_1
        case "HTTP/1.0": version = .http1_0
        default:
            let shape = Array(versionText.utf8)
            if shape.count == 8, versionText.hasPrefix("HTTP/"), shape[6] == UInt8(ascii: "."),
               isDigit(shape[5]), isDigit(shape[7]) {
                throw .unsupportedVersion(versionText)
            }
            throw .malformedRequestLine
        }
        return HTTP1RequestHead(method: String(decoding: parts[0], as: UTF8.self),
                                target: String(decoding: parts[1], as: UTF8.self),
                                version: version, headers: HeaderFields())
    }

    private func parseField(_ line: ArraySlice<UInt8>, offset: Int) throws(HTTP1ParseError) -> HeaderField {
        guard let first = line.first else { throw .invalidHeaderName(offset: offset) }
        if first == sp || first == htab { throw .obsoleteLineFolding(offset: offset) }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
            throw .invalidHeaderName(offset: offset)
        }
        let nameBytes = line[line.startIndex..<colon]
        if let last = nameBytes.last, last == sp || last == htab {
            throw .whitespaceBeforeColon(offset: offset + colon - line.startIndex)
        }
        guard nameBytes.allSatisfy(isTokenByte) else { throw .invalidHeaderName(offset: offset) }
        var valueBytes = line[(colon + 1)...]
        while let byte = valueBytes.first, byte == sp || byte == htab { valueBytes = valueBytes.dropFirst() }
        while let byte = valueBytes.last, byte == sp || byte == htab { valueBytes = valueBytes.dropLast() }
        let name = String(decoding: nameBytes, as: UTF8.self)
        // field-value = *( VCHAR / obs-text / SP / HTAB ) (RFC 9110 §5.5); no CR, LF or NUL.
        guard valueBytes.allSatisfy({ $0 == sp || $0 == htab || ($0 > 0x20 && $0 != 0x7F) }) else {
            throw .invalidHeaderValue(name: name.lowercased())
        }
        return HeaderField(name: name, value: String(decoding: valueBytes, as: UTF8.self))
    }

    private func bodyFraming(of head: HTTP1RequestHead) throws(HTTP1ParseError) -> HTTP1BodyFraming {
        let hosts = head.headers.values(for: "host")
        if hosts.count > 1 { throw .duplicateHost }
        if head.version == .http1_1 && hosts.isEmpty { throw .missingHost }

        let lengths = head.headers.values(for: "content-length")
        let encodings = head.headers.values(for: "transfer-encoding")
        if !encodings.isEmpty {
            if !lengths.isEmpty { throw .contentLengthWithTransferEncoding }
            let codings = head.headers.listMembers(for: "transfer-encoding")
            guard head.version == .http1_1, codings == ["chunked"] else {
                throw .unsupportedTransferEncoding(encodings.joined(separator: ", "))
            }
            return .chunked
        }
        guard let lengthText = lengths.first else { return .none }
        if lengths.count > 1 { throw .duplicateContentLength }
        // Content-Length = 1*DIGIT: no sign, no list, no spaces (RFC 9110 §8.6).
        guard !lengthText.isEmpty, lengthText.utf8.count <= 18, lengthText.utf8.allSatisfy(isDigit),
              let length = Int(lengthText) else {
            throw .invalidContentLength(lengthText)
        }
        return .contentLength(length)
    }

    /// Returns up to `remaining` buffered body bytes; the state becomes `done` when they were
    /// the last, or `more(left)` otherwise.
    private mutating func takeBody(remaining: Int, then done: State, else more: (Int) -> State) -> Event? {
        let available = min(remaining, bufferedByteCount)
        if available == 0 { return nil }
        let chunk = buffer[readIndex..<readIndex + available]
        readIndex += available
        state = remaining == available ? done : more(remaining - available)
        return .body(chunk)
    }

    /// Takes one CRLF-terminated line (without the CRLF) from the buffer.
    private mutating func takeLine(limit: Int) throws(HTTP1ParseError) -> ArraySlice<UInt8>? {
        var index = readIndex
        while index < buffer.count {
            if buffer[index] == lf {
                guard index > readIndex, buffer[index - 1] == cr else { throw .bareLineFeed(offset: index) }
                let line = buffer[readIndex..<index - 1]
                readIndex = index + 1
                return line
            }
            index += 1
            if index - readIndex > limit { throw .invalidChunk(offset: readIndex) }
        }
        return nil
    }

    private func parseChunkSize(_ line: ArraySlice<UInt8>) throws(HTTP1ParseError) -> Int {
        // chunk = chunk-size [ chunk-ext ] CRLF (RFC 9112 §7.1); extensions are ignored.
        let sizeBytes = line.prefix { $0 != UInt8(ascii: ";") }
        guard !sizeBytes.isEmpty, sizeBytes.count <= 15 else { throw .invalidChunk(offset: readIndex) }
        var size = 0
        for byte in sizeBytes {
            guard let digit = hexDigitValue(byte) else { throw .invalidChunk(offset: readIndex) }
            size = size * 16 + digit
        }
        return size
    }
}

private let cr = UInt8(ascii: "\r")
private let lf = UInt8(ascii: "\n")
private let sp = UInt8(ascii: " ")
private let htab = UInt8(ascii: "\t")

private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

private func hexDigitValue(_ byte: UInt8) -> Int? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
    default: nil
    }
}

/// tchar (RFC 9110 §5.6.2).
private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
         UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "!#$%&'*+-.^_`|~".utf8.contains(byte)
    }
}
