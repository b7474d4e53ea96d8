// A JSON tokenizer over raw bytes (RFC 8259), strict: the parser of the protobuf JSON mapping
// pulls tokens from it and every error carries the byte offset.

/// How deep JSON values or protobuf messages may nest, in either direction: protobuf's default
/// recursion limit. Hostile input nested deeper gets an error, never a stack overflow.
let maxNestingDepth = 100

/// Why a request body was refused: a byte offset for syntax errors, a field path for values
/// that do not fit the message.
public struct JSONParseError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    /// The field path (`node.labels[2]`), empty at the top level.
    public var path: String
    public var reason: String

    public var description: String {
        path.isEmpty ? "invalid JSON at byte \(offset): \(reason)" : "invalid JSON at byte \(offset), field \(path): \(reason)"
    }
}

struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0
    /// The field path being parsed, for errors; rendered only when one happens.
    var path: [PathComponent] = []

    enum PathComponent {
        case field(String)
        /// Element `index` of the repeated field before it.
        case element(Int)
        /// Entry `key` of the map field before it.
        case key(String)
    }
    /// Nesting depth, bounded so that hostile input cannot exhaust the stack.
    var depth = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    func error(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? index, path: renderedPath, reason: reason)
    }

    /// `node.labels[2]`, `labels[zone]`.
    private var renderedPath: String {
        var text = ""
        for component in path {
            switch component {
            case .field(let name): text += text.isEmpty ? name : "." + name
            case .element(let index): text += "[\(index)]"
            case .key(let key): text += "[\(key)]"
            }
        }
        return text
    }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Where the next token starts (for error offsets).
    mutating func nextTokenOffset() -> Int {
        skipWhitespace()
        return index
    }

    /// The next significant byte, or nil at the end.
    mutating func peek() -> UInt8? {
        skipWhitespace()
        return index < bytes.count ? bytes[index] : nil
    }

    mutating func expect(_ byte: UInt8) throws(JSONParseError) {
        guard peek() == byte else { throw unexpected("'\(Character(UnicodeScalar(byte)))'") }
        index += 1
    }

    /// Consumes `byte` if it is next.
    mutating func take(_ byte: UInt8) -> Bool {
        guard peek() == byte else { return false }
        index += 1
        return true
    }

    func unexpected(_ expected: String) -> JSONParseError {
        guard index < bytes.count else { return error("expected \(expected), found the end of the body") }
        let byte = bytes[index]
        let found = byte >= 0x20 && byte < 0x7F ? "'\(Character(UnicodeScalar(byte)))'" : "byte 0x\(String(byte, radix: 16))"
        return error("expected \(expected), found \(found)")
    }

    mutating func takeNull() -> Bool {
        guard peek() == UInt8(ascii: "n"), matches("null") else { return false }
        index += 4
        return true
    }

    mutating func readBool() throws(JSONParseError) -> Bool {
        if peek() == UInt8(ascii: "t"), matches("true") {
            index += 4
            return true
        }
        if peek() == UInt8(ascii: "f"), matches("false") {
            index += 5
            return false
        }
        throw unexpected("true or false")
    }

    private func matches(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != literal.utf8Start[offset] { return false }
        // A literal must end there: "nullx" is not null.
        return index + count == bytes.count || !isIdentifierByte(bytes[index + count])
    }

    /// Where a string's content is: in place in the input when it has no escapes (the common
    /// case, read without a copy), else unescaped into a new array.
    enum StringContent {
        case inPlace(Range<Int>)
        case unescaped([UInt8])
    }

    /// A JSON string's content, unescaped and checked to be UTF-8. Runs of bytes with nothing
    /// to look at (no quote, backslash, control character or non-ASCII byte) are skipped eight
    /// at a time.
    mutating func readStringContent() throws(JSONParseError) -> StringContent {
        guard peek() == UInt8(ascii: "\"") else { throw unexpected("a string") }
        let start = index
        index += 1
        var runStart = index
        var unescaped: [UInt8]?
        var isASCII = true
        while index < bytes.count {
            if index + 8 <= bytes.count {
                // Straight to the first byte that needs a look (little-endian: the lowest flag).
                let flags = SWAR.attentionFlags(bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self))
                if flags == 0 {
                    index += 8
                    continue
                }
                index += flags.trailingZeroBitCount / 8
            }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let content: StringContent
                if var text = unescaped {
                    text.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                    content = .unescaped(text)
                } else {
                    content = .inPlace(runStart..<index)
                }
                index += 1
                if !isASCII {
                    let valid = withBytes(of: content) { validatedUTF8String($0.assumingMemoryBound(to: UInt8.self)) != nil }
                    guard valid else { throw error("string is not valid UTF-8", at: start) }
                }
                return content
            }
            if byte < 0x20 { throw error("control character 0x\(String(byte, radix: 16)) in a string") }
            if byte == UInt8(ascii: "\\") {
                var text = unescaped ?? []
                text.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index]))
                try readEscape(into: &text)
                unescaped = text
                runStart = index
                // An escape may produce non-ASCII text; it is valid UTF-8 by construction, but
                // the check below covers the whole string in one place.
                isASCII = false
                continue
            }
            if byte >= 0x80 { isASCII = false }
            index += 1
        }
        throw error("unterminated string", at: start)
    }

    /// Calls `body` with the bytes of a string's content.
    func withBytes<Result>(of content: StringContent, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        switch content {
        case .inPlace(let range): body(UnsafeRawBufferPointer(rebasing: bytes[range]))
        case .unescaped(let text): text.withUnsafeBytes(body)
        }
    }

    /// A JSON string, unescaped, as a String.
    mutating func readString() throws(JSONParseError) -> String {
        let content = try readStringContent()
        return withBytes(of: content) { String(decoding: $0, as: UTF8.self) }
    }

    private mutating func readEscape(into out: inout [UInt8]) throws(JSONParseError) {
        let start = index
        index += 1
        guard index < bytes.count else { throw error("unterminated escape", at: start) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(byte)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4(escapeStart: start)
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by \u and a low one (RFC 8259 §7).
                guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw error("unpaired surrogate \\u\(String(scalar, radix: 16))", at: start)
                }
                index += 2
                let low = try readHex4(escapeStart: start)
                guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired surrogate", at: start) }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw error("unpaired surrogate \\u\(String(scalar, radix: 16))", at: start)
            }
            out.append(contentsOf: String(Character(UnicodeScalar(scalar)!)).utf8)
        default:
            throw error("invalid escape '\\\(Character(UnicodeScalar(byte)))'", at: start)
        }
    }

    private mutating func readHex4(escapeStart: Int) throws(JSONParseError) -> UInt32 {
        guard bytes.count - index >= 4 else { throw error("truncated \\u escape", at: escapeStart) }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = hexValue(bytes[index]) else { throw error("invalid hex digit in \\u escape", at: escapeStart) }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    /// A JSON number's text (RFC 8259 §6: -? int frac? exp?), checked but not converted.
    mutating func readNumberText() throws(JSONParseError) -> String {
        guard let first = peek(), first == UInt8(ascii: "-") || isDigit(first) else { throw unexpected("a number") }
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count, isDigit(bytes[index]) else { throw error("a number needs digits", at: start) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if index < bytes.count, isDigit(bytes[index]) { throw error("leading zeros are not allowed", at: start) }
        } else {
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("a fraction needs digits", at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw error("an exponent needs digits", at: start) }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// Skips one value of any kind (an ignored unknown field).
    mutating func skipValue() throws(JSONParseError) {
        switch peek() {
        case UInt8(ascii: "{"):
            try enter()
            index += 1
            if !take(UInt8(ascii: "}")) {
                repeat {
                    _ = try readString()
                    try expect(UInt8(ascii: ":"))
                    try skipValue()
                } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "}"))
            }
            depth -= 1
        case UInt8(ascii: "["):
            try enter()
            index += 1
            if !take(UInt8(ascii: "]")) {
                repeat { try skipValue() } while take(UInt8(ascii: ","))
                try expect(UInt8(ascii: "]"))
            }
            depth -= 1
        case UInt8(ascii: "\""): _ = try readString()
        case UInt8(ascii: "t"), UInt8(ascii: "f"): _ = try readBool()
        case UInt8(ascii: "n"):
            guard takeNull() else { throw unexpected("a value") }
        default: _ = try readNumberText()
        }
    }

    /// Counts one level of nesting; refuses documents nested deeper than `maxDepth`.
    mutating func enter() throws(JSONParseError) {
        depth += 1
        guard depth <= maxNestingDepth else { throw error("nested deeper than \(maxNestingDepth) levels") }
    }

    /// Checks that nothing but whitespace follows the top-level value.
    mutating func finish() throws(JSONParseError) {
        guard peek() == nil else { throw unexpected("the end of the body") }
    }
}

private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

private func isIdentifierByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
        UInt8(ascii: "_"):
        true
    default: false
    }
}
