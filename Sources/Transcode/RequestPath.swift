// The path of a REST request, split into segments for matching path templates (RFC 3986 §3.3):
// percent-encoding is checked once here; segments are decoded as each template needs.

/// Why a request path cannot be matched (answered with 400).
public struct RequestPathError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public var description: String { "invalid request path at byte \(offset): \(reason)" }
}

public struct RequestPath: Sendable {
    /// One segment as received (still percent-encoded).
    public struct Segment: Sendable {
        public let raw: Substring

        /// The text after the last ':' — a custom verb, if the template has one.
        var verbSuffix: Substring? {
            raw.utf8.lastIndex(of: UInt8(ascii: ":")).map { raw[raw.index(after: $0)...] }
        }

        func droppingVerb() -> Segment {
            Segment(raw: raw.utf8.lastIndex(of: UInt8(ascii: ":")).map { raw[..<$0] } ?? raw)
        }

        /// The segment percent-decoded; with `keepingSlashes`, `%2F` stays as it is (variables
        /// over several segments, http.proto). Valid UTF-8, checked when the path was parsed.
        func decoded(keepingSlashes: Bool) -> String {
            guard raw.utf8.contains(UInt8(ascii: "%")) else { return String(raw) }
            return String(decoding: percentDecoded(Array(raw.utf8), keepingSlashes: keepingSlashes), as: UTF8.self)
        }
    }

    public let segments: [Segment]

    /// Splits `path` (no query) at '/'; refuses a path not starting with '/', a malformed
    /// `%XX`, and percent-encoded bytes that are not UTF-8.
    public init(parsing path: Substring) throws(RequestPathError) {
        guard path.first == "/" else { throw RequestPathError(offset: 0, reason: "a path starts with '/'") }
        let utf8 = Array(path.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "%") {
                guard index + 2 < utf8.count, hexByte(utf8[index + 1], utf8[index + 2]) != nil else {
                    throw RequestPathError(offset: index, reason: "'%' is not followed by two hex digits")
                }
                index += 3
            } else {
                index += 1
            }
        }
        // Split on the bytes: Character-wise splitting of a Substring costs grapheme breaking.
        var segments: [Segment] = []
        var start = path.utf8.index(after: path.utf8.startIndex)
        var position = start
        while position < path.utf8.endIndex {
            if path.utf8[position] == UInt8(ascii: "/") {
                segments.append(Segment(raw: path[start..<position]))
                start = path.utf8.index(after: position)
            }
            position = path.utf8.index(after: position)
        }
        segments.append(Segment(raw: path[start..<path.utf8.endIndex]))
        self.segments = segments
        var offset = 1
        for segment in segments {
            guard validatedUTF8String(percentDecoded(Array(segment.raw.utf8), keepingSlashes: false)) != nil else {
                throw RequestPathError(offset: offset, reason: "percent-encoded bytes are not UTF-8")
            }
            offset += segment.raw.utf8.count + 1
        }
    }
}

/// `%XX` decoded (the encoding was checked); with `keepingSlashes`, `%2F` is left as it is.
private func percentDecoded(_ raw: [UInt8], keepingSlashes: Bool) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(raw.count)
    var index = 0
    while index < raw.count {
        if raw[index] == UInt8(ascii: "%"), let value = hexByte(raw[index + 1], raw[index + 2]),
            !(keepingSlashes && value == UInt8(ascii: "/"))
        {
            bytes.append(value)
            index += 3
        } else {
            bytes.append(raw[index])
            index += 1
        }
    }
    return bytes
}

private func hexByte(_ high: UInt8, _ low: UInt8) -> UInt8? {
    guard let high = hexValue(high), let low = hexValue(low) else { return nil }
    return high << 4 | low
}

func hexValue(_ byte: UInt8) -> UInt8? {
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
    default: nil
    }
}
