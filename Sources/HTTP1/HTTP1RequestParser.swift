// A strict, incremental HTTP/1.1 request parser (RFC 9112). Stricter than evhttp on purpose:
// bare LF, obs-fold, whitespace before the colon, duplicate or signed Content-Length,
// Content-Length with Transfer-Encoding and missing Host are all rejected (request smuggling
// and cache poisoning live in the gaps between lenient parsers).
import FerryCore
import Glibc

/// How the body of a request is delimited (RFC 9112 §6.3).
public enum HTTP1BodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked

    /// The body's length when the head declares it.
    public var expectedLength: Int? {
        if case .contentLength(let length) = self { return length }
        return nil
    }
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

    /// The parser holds no input buffer (its storage was taken as spare): `provideStorage`
    /// gives it one to append into, or `append` allocates one.
    public var needsStorage: Bool { buffer.capacity == 0 }

    /// Empty storage (capacity kept from an earlier use) for the next bytes.
    public mutating func provideStorage(_ storage: consuming [UInt8]) {
        guard needsStorage, storage.isEmpty else { return }
        buffer = storage
        readIndex = 0
        headScanIndex = 0
    }

    /// The input buffer's storage, emptied, once every byte in it has been parsed; nil while
    /// bytes wait. A connection between requests then holds no buffer, and the storage can
    /// serve another connection.
    public mutating func takeSpareStorage() -> [UInt8]? {
        guard readIndex == buffer.count, buffer.capacity > 0 else { return nil }
        var storage: [UInt8] = []
        swap(&storage, &buffer)
        storage.removeAll(keepingCapacity: true)
        readIndex = 0
        headScanIndex = 0
        return storage
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
        var noRecentTarget = ""
        return try next(recentTarget: &noRecentTarget)
    }

    /// The next event, or nil when more bytes are needed. A request whose target is
    /// `recentTarget` (the last one its worker saw, on any connection) shares that String
    /// instead of building another, an allocation and a UTF-8 check; `recentTarget` becomes
    /// each new request's target.
    public mutating func next(recentTarget: inout String) throws(HTTP1ParseError) -> Event? {
        do {
            return try step(recentTarget: &recentTarget)
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

    private mutating func step(recentTarget: inout String) throws(HTTP1ParseError) -> Event? {
        switch state {
        case .failed(let error):
            throw error
        case .head:
            return try parseHead(recentTarget: &recentTarget)
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
                return try step(recentTarget: &recentTarget)
            }
            state = .chunkData(remaining: size)
            return try step(recentTarget: &recentTarget)
        case .chunkData(let remaining):
            return takeBody(remaining: remaining, then: .chunkDataEnd, else: { .chunkData(remaining: $0) })
        case .chunkDataEnd:
            guard bufferedByteCount >= 2 else { return nil }
            guard buffer[readIndex] == cr, buffer[readIndex + 1] == lf else {
                throw .invalidChunk(offset: readIndex)
            }
            readIndex += 2
            state = .chunkSize
            return try step(recentTarget: &recentTarget)
        case .trailers(let fields):
            guard let line = try takeLine(limit: limits.maxHeaderBytes) else { return nil }
            if line.isEmpty {
                state = .endOfMessage
                return try step(recentTarget: &recentTarget)
            }
            // Trailer fields are read for framing only; they are not forwarded (RFC 9110 §6.5.1).
            guard fields + 1 <= limits.maxHeaderFields else { throw .tooManyHeaderFields(limit: limits.maxHeaderFields) }
            _ = try withTypedUnsafeBytes(line) { bytes throws(HTTP1ParseError) in
                try Self.parseField(bytes, offset: line.startIndex)
            }
            state = .trailers(fields: fields + 1)
            return try step(recentTarget: &recentTarget)
        }
    }

    private mutating func parseHead(recentTarget: inout String) throws(HTTP1ParseError) -> Event? {
        // RFC 9112 §2.2: ignore empty lines received before the request line.
        while bufferedByteCount >= 2 && buffer[readIndex] == cr && buffer[readIndex + 1] == lf {
            readIndex += 2
        }
        headScanIndex = max(headScanIndex, readIndex)
        guard let headEnd = try findHeadEnd() else {
            // Every position where the head could end within the limit was looked at.
            if bufferedByteCount >= limits.maxHeaderBytes {
                throw .headerSectionTooLarge(limit: limits.maxHeaderBytes)
            }
            return nil
        }
        let start = readIndex
        let limits = limits
        let head = try withTypedUnsafeBytes(buffer) { bytes throws(HTTP1ParseError) in
            try Self.parseHeadSection(bytes, from: start, to: headEnd, limits: limits, recentTarget: &recentTarget)
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

    /// The index just past the CRLF CRLF that ends the header section, or nil if not yet
    /// received. Looked for within `maxHeaderBytes` only: what lies beyond is never read, so a
    /// head over the limit is 431 whatever it holds and however the bytes arrived (found by
    /// fuzzing: a bare LF past the limit gave 400 when the request came in one piece).
    private mutating func findHeadEnd() throws(HTTP1ParseError) -> Int? {
        let start = readIndex
        let end = min(buffer.count, readIndex + limits.maxHeaderBytes)
        // From one LF to the next with memchr: the bytes between need no look here.
        let found = try withTypedUnsafeBytes(buffer) { bytes throws(HTTP1ParseError) -> (headEnd: Int?, scanned: Int) in
            var index = headScanIndex
            while index < end {
                guard let hit = memchr(bytes.baseAddress! + index, Int32(lf), end - index) else { return (nil, end) }
                index = UnsafeRawPointer(hit) - bytes.baseAddress!
                guard index > start, bytes[index - 1] == cr else { throw .bareLineFeed(offset: index - start) }
                if index - start >= 3 && bytes[index - 2] == lf && bytes[index - 3] == cr { return (index + 1, index + 1) }
                index += 1
            }
            return (nil, index)
        }
        headScanIndex = found.scanned
        return found.headEnd
    }

    /// The request line and header fields of a complete head in `bytes[start..<headEnd]`
    /// (findHeadEnd checked that every LF there ends a CRLF: a line ends one byte before its LF).
    /// On raw bytes: every request's head is read here once, a dozen lines.
    private static func parseHeadSection(
        _ bytes: UnsafeRawBufferPointer, from start: Int, to headEnd: Int, limits: Limits, recentTarget: inout String
    ) throws(HTTP1ParseError) -> HTTP1RequestHead {
        var lineEnd = endOfLine(bytes, from: start)
        let requestLine = try parseRequestLine(UnsafeRawBufferPointer(rebasing: bytes[start..<lineEnd]), recentTarget: &recentTarget)
        let sectionStart = lineEnd + 2
        // The fields stay where they are in a copy of the section (names lower-cased there).
        var headers = HeaderFields(copying: UnsafeRawBufferPointer(rebasing: bytes[sectionStart..<headEnd]), reservingFields: 16)
        var lineStart = sectionStart
        // The empty line that ends the section starts at headEnd - 2.
        while lineStart < headEnd - 2 {
            guard headers.count < limits.maxHeaderFields else {
                throw .tooManyHeaderFields(limit: limits.maxHeaderFields)
            }
            lineEnd = endOfLine(bytes, from: lineStart)
            let field = try parseField(UnsafeRawBufferPointer(rebasing: bytes[lineStart..<lineEnd]), offset: lineStart - start)
            let shift = lineStart - sectionStart
            headers.appendField(
                name: field.name.lowerBound + shift..<field.name.upperBound + shift,
                value: field.value.lowerBound + shift..<field.value.upperBound + shift)
            lineStart = lineEnd + 2
        }
        // Built once, whole: a head built first and given its fields after was copied (with its
        // strings) on the way out, about 220 instructions a request (issue 19).
        return HTTP1RequestHead(method: requestLine.method, target: requestLine.target, version: requestLine.version, headers: headers)
    }

    /// A request line's parts (RFC 9112 §3).
    private struct RequestLine {
        var method: String
        var target: String
        var version: HTTPVersion
    }

    /// The index of the first `byte` in `bytes` at or after `start`.
    private static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let hit = memchr(bytes.baseAddress! + start, Int32(byte), bytes.count - start) else { return nil }
        return UnsafeRawPointer(hit) - bytes.baseAddress!
    }

    /// The index of the CR that ends the line starting at `index` (the head is complete).
    private static func endOfLine(_ bytes: UnsafeRawBufferPointer, from index: Int) -> Int {
        UnsafeRawPointer(memchr(bytes.baseAddress! + index, Int32(lf), bytes.count - index)!) - bytes.baseAddress! - 1
    }

    private static func parseRequestLine(
        _ line: UnsafeRawBufferPointer, recentTarget: inout String
    ) throws(HTTP1ParseError) -> RequestLine {
        // request-line = method SP request-target SP HTTP-version (RFC 9112 §3): two spaces.
        guard let firstSpace = index(of: sp, in: line, from: 0),
            let secondSpace = index(of: sp, in: line, from: firstSpace + 1),
            index(of: sp, in: line, from: secondSpace + 1) == nil
        else {
            throw .malformedRequestLine
        }
        let method = UnsafeRawBufferPointer(rebasing: line[..<firstSpace])
        let target = UnsafeRawBufferPointer(rebasing: line[(firstSpace + 1)..<secondSpace])
        let versionBytes = UnsafeRawBufferPointer(rebasing: line[(secondSpace + 1)...])
        guard !method.isEmpty, method.allSatisfy(isHTTPTokenByte),
            let first = target.first, first == UInt8(ascii: "/") || (target.count == 1 && first == UInt8(ascii: "*")),
            target.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw .malformedRequestLine
        }
        let version: HTTPVersion
        let http1: StaticString = "HTTP/1."
        let isHTTP1 = versionBytes.count == 8 && memcmp(versionBytes.baseAddress!, http1.utf8Start, 7) == 0
        if isHTTP1 && versionBytes[7] == UInt8(ascii: "1") {
            version = .http1_1
        } else if isHTTP1 && versionBytes[7] == UInt8(ascii: "0") {
            version = .http1_0
        } else {
            let versionText = String(decoding: versionBytes, as: UTF8.self)
            if versionBytes.count == 8, versionText.hasPrefix("HTTP/"), versionBytes[6] == UInt8(ascii: "."),
                isDigit(versionBytes[5]), isDigit(versionBytes[7])
            {
                throw .unsupportedVersion(versionText)
            }
            throw .malformedRequestLine
        }
        if !isRecent(target, recentTarget) { recentTarget = String(decoding: target, as: UTF8.self) }
        return RequestLine(method: methodString(method), target: recentTarget, version: version)
    }

    /// Whether `target` holds the bytes of `recent`, compared in place.
    private static func isRecent(_ target: UnsafeRawBufferPointer, _ recent: String) -> Bool {
        recent.utf8.withContiguousStorageIfAvailable { recent in
            recent.count == target.count && memcmp(recent.baseAddress!, target.baseAddress!, target.count) == 0
        } ?? false
    }

    /// The method's String: the common ones are literals (no UTF-8 check, no storage).
    private static func methodString(_ method: UnsafeRawBufferPointer) -> String {
        switch method.count {
        case 3 where method.hasPrefix("GET"): "GET"
        case 4 where method.hasPrefix("POST"): "POST"
        case 7 where method.hasPrefix("OPTIONS"): "OPTIONS"
        default: String(decoding: method, as: UTF8.self)
        }
    }

    /// Validates one field line: where its name and value lie in it. `offset` is where the
    /// line starts in the head, for the error.
    private static func parseField(
        _ line: UnsafeRawBufferPointer, offset: Int
    ) throws(HTTP1ParseError) -> (name: Range<Int>, value: Range<Int>) {
        guard !line.isEmpty else { throw .invalidHeaderName(offset: offset) }
        if line[0] == sp || line[0] == htab { throw .obsoleteLineFolding(offset: offset) }
        // The name runs to the first byte that is not a tchar, which must be its colon (not
        // a tchar either, so the loop looks at each byte once).
        var colon = 0
        while colon < line.count && isHTTPTokenByte(line[colon]) { colon += 1 }
        guard colon < line.count, line[colon] == UInt8(ascii: ":") else {
            if let late = colonAfterBlanks(line, from: colon) { throw .whitespaceBeforeColon(offset: offset + late) }
            throw .invalidHeaderName(offset: offset)
        }
        guard colon > 0 else { throw .invalidHeaderName(offset: offset) }
        var valueStart = colon + 1
        var valueEnd = line.count
        while valueStart < valueEnd, line[valueStart] == sp || line[valueStart] == htab { valueStart += 1 }
        while valueEnd > valueStart, line[valueEnd - 1] == sp || line[valueEnd - 1] == htab { valueEnd -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd])
        guard isHTTPFieldValue(value) else {
            throw .invalidHeaderValue(name: String(decoding: line[..<colon], as: UTF8.self).lowercased())
        }
        return (0..<colon, valueStart..<valueEnd)
    }

    /// The colon that follows `index` after nothing but spaces and tabs (a name followed by
    /// whitespace before its colon, which RFC 9112 §5.1 forbids); nil when something else comes.
    private static func colonAfterBlanks(_ line: UnsafeRawBufferPointer, from index: Int) -> Int? {
        var index = index
        while index < line.count && (line[index] == sp || line[index] == htab) { index += 1 }
        return index < line.count && line[index] == UInt8(ascii: ":") ? index : nil
    }

    /// The fields that decide a request's framing (RFC 9112 §6.3) and its host (§3.2).
    private enum FramingField {
        case host, contentLength, transferEncoding

        /// Which one `name` is, if any: compared only with the name of its length.
        static func named(_ name: UnsafeRawBufferPointer) -> FramingField? {
            switch name.count {
            case 4: name.hasPrefix("host") ? .host : nil
            case 14: name.hasPrefix("content-length") ? .contentLength : nil
            case 17: name.hasPrefix("transfer-encoding") ? .transferEncoding : nil
            default: nil
            }
        }
    }

    private func bodyFraming(of head: HTTP1RequestHead) throws(HTTP1ParseError) -> HTTP1BodyFraming {
        let headers = head.headers
        var hosts = 0
        var lengths = 0
        var lengthIndex = 0
        var hasTransferEncoding = false
        for index in 0..<headers.count {
            // Each name read once, in place.
            switch headers.withName(at: index, FramingField.named) {
            case .host:
                hosts += 1
            case .contentLength:
                if lengths == 0 { lengthIndex = index }
                lengths += 1
            case .transferEncoding:
                hasTransferEncoding = true
            case nil:
                break
            }
        }
        if hosts > 1 { throw .duplicateHost }
        if head.version == .http1_1 && hosts == 0 { throw .missingHost }

        if hasTransferEncoding {
            if lengths > 0 { throw .contentLengthWithTransferEncoding }
            let codings = headers.listMembers(for: "transfer-encoding")
            guard head.version == .http1_1, codings == ["chunked"] else {
                throw .unsupportedTransferEncoding(headers.values(for: "transfer-encoding").joined(separator: ", "))
            }
            return .chunked
        }
        guard lengths > 0 else { return .none }
        if lengths > 1 { throw .duplicateContentLength }
        // Content-Length = 1*DIGIT: no sign, no list, no spaces (RFC 9110 §8.6).
        let length = headers.withValue(at: lengthIndex) { digits -> Int? in
            guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy(isDigit) else { return nil }
            return digits.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        }
        guard let length else { throw .invalidContentLength(String(decoding: headers.valueBytes(at: lengthIndex), as: UTF8.self)) }
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
