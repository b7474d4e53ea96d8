// Base64 (RFC 4648 §4, standard alphabet, padded): `application/grpc-web-text` bodies and
// the `bytes` fields of the protobuf JSON mapping.

/// Why a text body could not be decoded.
public enum Base64Error: Error, Equatable, CustomStringConvertible {
    case invalidCharacter(UInt8, offset: Int)
    case misplacedPadding(offset: Int)
    case incompleteGroup(offset: Int)

    public var description: String {
        switch self {
        case .invalidCharacter(let byte, let offset):
            "invalid base64 character 0x\(String(byte, radix: 16, uppercase: true)) at byte \(offset)"
        case .misplacedPadding(let offset): "misplaced base64 padding at byte \(offset)"
        case .incompleteGroup(let offset): "base64 body ends inside a 4-character group at byte \(offset)"
        }
    }
}

public enum Base64 {
    static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static let decodeTable: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    /// Encodes with padding; the output is independently decodable, which is what lets a
    /// `-text` response flush base64 "chunks" at message boundaries (PROTOCOL-WEB.md).
    public static func encode(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        let outputCount = (bytes.count + 2) / 3 * 4
        let alphabet = Base64.alphabet  // once, not per byte (a global's lazy check costs a call)
        return alphabet.withUnsafeBufferPointer { alphabet in
            [UInt8](unsafeUninitializedCapacity: outputCount) { out, initialized in
                var input = 0
                var output = 0
                while input + 3 <= bytes.count {
                    let group = UInt32(bytes[input]) << 16 | UInt32(bytes[input + 1]) << 8 | UInt32(bytes[input + 2])
                    out[output] = alphabet[Int(group >> 18 & 0x3F)]
                    out[output + 1] = alphabet[Int(group >> 12 & 0x3F)]
                    out[output + 2] = alphabet[Int(group >> 6 & 0x3F)]
                    out[output + 3] = alphabet[Int(group & 0x3F)]
                    input += 3
                    output += 4
                }
                let remaining = bytes.count - input
                if remaining > 0 {
                    let group = UInt32(bytes[input]) << 16 | (remaining == 2 ? UInt32(bytes[input + 1]) << 8 : 0)
                    out[output] = alphabet[Int(group >> 18 & 0x3F)]
                    out[output + 1] = alphabet[Int(group >> 12 & 0x3F)]
                    out[output + 2] = remaining == 2 ? alphabet[Int(group >> 6 & 0x3F)] : UInt8(ascii: "=")
                    out[output + 3] = UInt8(ascii: "=")
                    output += 4
                }
                initialized = output
            }
        }
    }

    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { encode($0) }
    }

    /// Both alphabets at once: '+' and '-' are 62, '/' and '_' are 63.
    static let lenientDecodeTable: [UInt8] = {
        var table = decodeTable
        table[Int(UInt8(ascii: "-"))] = 62
        table[Int(UInt8(ascii: "_"))] = 63
        return table
    }()

    /// Decodes one value as the protobuf JSON mapping accepts it for `bytes` fields: the
    /// standard or the URL-safe alphabet (RFC 4648 §5), padding optional. nil when invalid.
    public static func decodeLenient(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        let decoded = Array(text.utf8).withUnsafeBytes { decodeLenient($0, appendingTo: &out) }
        return decoded ? out : nil
    }

    /// The number of bytes `decodeLenient` makes of `text`, or nil when its length or padding
    /// cannot be base64.
    public static func decodedLength(lenient text: UnsafeRawBufferPointer) -> Int? {
        var length = text.count
        while length > 0 && text[length - 1] == UInt8(ascii: "=") { length -= 1 }
        guard length % 4 != 1, text.count - length <= 2 else { return nil }
        return length / 4 * 3 + max(0, length % 4 - 1)
    }

    /// `decodeLenient`, appending to `out`; false (and `out` as it was) when invalid. Whole
    /// groups are decoded four characters to three bytes, straight into `out`'s storage.
    public static func decodeLenient(_ text: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]) -> Bool {
        guard let decodedCount = decodedLength(lenient: text) else { return false }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: decodedCount))
        let valid = lenientDecodeTable.withUnsafeBufferPointer { table in
            out.withUnsafeMutableBufferPointer { buffer in
                var input = 0
                var output = start
                while output + 3 <= start + decodedCount {
                    let a = table[Int(text[input])], b = table[Int(text[input + 1])]
                    let c = table[Int(text[input + 2])], d = table[Int(text[input + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else { return false }
                    let group = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                    buffer[output] = UInt8(truncatingIfNeeded: group >> 16)
                    buffer[output + 1] = UInt8(truncatingIfNeeded: group >> 8)
                    buffer[output + 2] = UInt8(truncatingIfNeeded: group)
                    input += 4
                    output += 3
                }
                // A last group of 2 or 3 characters: 1 or 2 bytes.
                let rest = start + decodedCount - output
                guard rest > 0 else { return true }
                var group: UInt32 = 0
                for position in input..<input + rest + 1 {
                    let value = table[Int(text[position])]
                    guard value & 0xC0 == 0 else { return false }
                    group = group << 6 | UInt32(value)
                }
                group <<= 6 * UInt32(3 - rest)
                buffer[output] = UInt8(truncatingIfNeeded: group >> 16)
                if rest == 2 { buffer[output + 1] = UInt8(truncatingIfNeeded: group >> 8) }
                return true
            }
        }
        if !valid { out.removeSubrange(start...) }
        return valid
    }

    /// Appends the bytes of a group of 4, 3 or 2 base64 characters (`sextets` of 6 bits in the
    /// low bits of `group`): 3, 2 or 1 bytes.
    @inline(__always)
    static func appendGroup(_ group: UInt32, sextets: Int, to out: inout [UInt8]) {
        let bits = group << (6 * (4 - sextets))
        out.append(UInt8(truncatingIfNeeded: bits >> 16))
        if sextets > 2 { out.append(UInt8(truncatingIfNeeded: bits >> 8)) }
        if sextets > 3 { out.append(UInt8(truncatingIfNeeded: bits)) }
    }
}

/// Incremental base64 decoder that accepts padding inside the stream: a padded group ends one
/// base64 segment and the next group starts a new one, as gRPC-Web text streams may be the
/// concatenation of independently encoded chunks (PROTOCOL-WEB.md).
public struct Base64StreamDecoder {
    private var group: UInt32 = 0
    private var groupCount = 0
    /// Set after "xx=": the group still needs its second '='.
    private var awaitingSecondPad = false
    private var offset = 0

    public init() {}

    public mutating func decode<Bytes: Sequence>(_ bytes: Bytes) throws(Base64Error) -> [UInt8]
    where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount / 4 * 3 + 3)
        let table = Base64.decodeTable  // once, not per byte
        for byte in bytes {
            defer { offset += 1 }
            if byte == UInt8(ascii: "=") {
                if awaitingSecondPad {
                    awaitingSecondPad = false
                    continue
                }
                switch groupCount {
                case 2:
                    Base64.appendGroup(group, sextets: 2, to: &out)
                    awaitingSecondPad = true
                case 3:
                    Base64.appendGroup(group, sextets: 3, to: &out)
                default:
                    throw .misplacedPadding(offset: offset)
                }
                group = 0
                groupCount = 0
                continue
            }
            if awaitingSecondPad { throw .misplacedPadding(offset: offset) }
            let value = table[Int(byte)]
            guard value != 0xFF else { throw .invalidCharacter(byte, offset: offset) }
            group = group << 6 | UInt32(value)
            groupCount += 1
            if groupCount == 4 {
                Base64.appendGroup(group, sextets: 4, to: &out)
                group = 0
                groupCount = 0
            }
        }
        return out
    }

    /// Checks that the stream ended on a group boundary.
    public func finish() throws(Base64Error) {
        if groupCount != 0 || awaitingSecondPad { throw .incompleteGroup(offset: offset) }
    }
}
