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

    /// Decodes one value as the protobuf JSON mapping accepts it for `bytes` fields: the
    /// standard or the URL-safe alphabet (RFC 4648 §5), padding optional. nil when invalid.
    public static func decodeLenient(_ text: some StringProtocol) -> [UInt8]? {
        var bytes = Array(text.utf8)
        while bytes.last == UInt8(ascii: "=") { bytes.removeLast() }
        guard bytes.count % 4 != 1, text.utf8.count - bytes.count <= 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3 / 4)
        var group: UInt32 = 0
        var count = 0
        let table = decodeTable  // once, not per byte
        for byte in bytes {
            let mapped: UInt8
            switch byte {
            case UInt8(ascii: "-"): mapped = 62
            case UInt8(ascii: "_"): mapped = 63
            default: mapped = table[Int(byte)]
            }
            guard mapped != 0xFF else { return nil }
            group = group << 6 | UInt32(mapped)
            count += 1
            if count == 4 {
                appendGroup(group, sextets: 4, to: &out)
                group = 0
                count = 0
            }
        }
        if count > 1 { appendGroup(group, sextets: count, to: &out) }
        return out
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
