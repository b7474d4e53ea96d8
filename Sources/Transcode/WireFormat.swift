// The protobuf binary wire format (protobuf.dev/programming-guides/encoding): varints,
// zigzag, fixed-width little-endian values, and tags. Reading never traps on bad input: a
// malformed message is an error with its byte offset.

/// Why protobuf bytes could not be read.
public struct WireFormatError: Error, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public var description: String { "invalid protobuf at byte \(offset): \(reason)" }
}

public enum WireType: UInt8, Sendable {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// A reader over a message's bytes; `offset` counts from the start of the outermost message.
public struct WireReader {
    public let bytes: UnsafeRawBufferPointer
    public internal(set) var index: Int
    let end: Int
    /// Where `bytes[0]` sits in the outermost message, for error offsets.
    public let base: Int

    public init(_ bytes: UnsafeRawBufferPointer, range: Range<Int>, base: Int = 0) {
        self.bytes = bytes
        index = range.lowerBound
        end = range.upperBound
        self.base = base
    }

    public var isAtEnd: Bool { index >= end }

    public func error(_ reason: String, at position: Int? = nil) -> WireFormatError {
        WireFormatError(offset: base + (position ?? index), reason: reason)
    }

    public mutating func readVarint() throws(WireFormatError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        let start = index
        while index < end {
            let byte = bytes[index]
            index += 1
            if shift == 63 && byte > 1 { throw error("varint overflows 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
            if shift > 63 { throw error("varint longer than 10 bytes", at: start) }
        }
        throw error("truncated varint", at: start)
    }

    /// The next tag: field number and wire type.
    public mutating func readTag() throws(WireFormatError) -> (number: Int32, type: WireType) {
        let start = index
        let tag = try readVarint()
        guard tag >> 3 > 0, tag >> 3 <= 0x1FFF_FFFF else { throw error("field number \(tag >> 3) out of range", at: start) }
        guard let type = WireType(rawValue: UInt8(tag & 7)) else { throw error("unknown wire type \(tag & 7)", at: start) }
        return (Int32(tag >> 3), type)
    }

    mutating func readFixed32() throws(WireFormatError) -> UInt32 {
        guard end - index >= 4 else { throw error("truncated fixed32") }
        var value: UInt32 = 0
        for shift in 0..<4 { value |= UInt32(bytes[index + shift]) << (8 * shift) }
        index += 4
        return value
    }

    mutating func readFixed64() throws(WireFormatError) -> UInt64 {
        guard end - index >= 8 else { throw error("truncated fixed64") }
        var value: UInt64 = 0
        for shift in 0..<8 { value |= UInt64(bytes[index + shift]) << (8 * shift) }
        index += 8
        return value
    }

    /// The range of a length-delimited value's payload.
    public mutating func readLengthDelimited() throws(WireFormatError) -> Range<Int> {
        let start = index
        let length = try readVarint()
        guard length <= UInt64(end - index) else { throw error("length \(length) runs past the message", at: start) }
        let range = index..<index + Int(length)
        index += Int(length)
        return range
    }

    /// The next length-delimited field (strings, bytes, messages): its number and payload,
    /// fields of other wire types skipped; nil at the end.
    public mutating func nextLengthDelimited() throws(WireFormatError) -> (number: Int32, payload: Range<Int>)? {
        while !isAtEnd {
            let (number, type) = try readTag()
            guard type == .lengthDelimited else {
                try skip(type, number: number)
                continue
            }
            return (number, try readLengthDelimited())
        }
        return nil
    }

    /// Skips a value of `type` (an unknown field), groups included.
    public mutating func skip(_ type: WireType, number: Int32) throws(WireFormatError) {
        switch type {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup:
            while true {
                guard !isAtEnd else { throw error("group \(number) is not closed") }
                let (inner, innerType) = try readTag()
                if innerType == .endGroup {
                    guard inner == number else { throw error("group \(number) closed as \(inner)") }
                    return
                }
                try skip(innerType, number: inner)
            }
        case .endGroup:
            throw error("unexpected end of group \(number)")
        }
    }
}

/// Appends wire-format values to a byte buffer.
public struct WireWriter {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    public mutating func writeTag(_ number: Int32, _ type: WireType) {
        writeVarint(UInt64(number) << 3 | UInt64(type.rawValue))
    }

    mutating func writeFixed32(_ value: UInt32) {
        for shift in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) }
    }

    mutating func writeFixed64(_ value: UInt64) {
        for shift in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * shift))) }
    }

    /// Tag, length and payload of a length-delimited field.
    public mutating func writeLengthDelimited(_ number: Int32, _ payload: some Collection<UInt8>) {
        writeTag(number, .lengthDelimited)
        writeVarint(UInt64(payload.count))
        bytes.append(contentsOf: payload)
    }

    /// Starts a length-delimited field whose payload is written next, in place (nested
    /// messages, packed runs, map entries): no buffer per level. Returns the mark for `end`.
    mutating func beginLengthDelimited(_ number: Int32) -> LengthMark {
        let tagStart = bytes.count
        writeTag(number, .lengthDelimited)
        bytes.append(0)  // one length byte; widened at the end if the payload needs more
        return LengthMark(tagStart: tagStart, payloadStart: bytes.count)
    }

    /// Ends the field begun at `mark`; with `droppingIfEmpty`, an empty payload removes the field.
    mutating func endLengthDelimited(_ mark: LengthMark, droppingIfEmpty: Bool = false) {
        let length = bytes.count - mark.payloadStart
        if length == 0 && droppingIfEmpty {
            bytes.removeSubrange(mark.tagStart...)
            return
        }
        if length < 0x80 {
            bytes[mark.payloadStart - 1] = UInt8(length)
            return
        }
        var varint = WireWriter()
        varint.writeVarint(UInt64(length))
        bytes[mark.payloadStart - 1] = varint.bytes[0]
        bytes.insert(contentsOf: varint.bytes[1...], at: mark.payloadStart)
    }

    struct LengthMark {
        let tagStart: Int
        let payloadStart: Int
    }
}

func zigZagEncode32(_ value: Int32) -> UInt64 { UInt64(UInt32(bitPattern: (value << 1) ^ (value >> 31))) }
func zigZagEncode64(_ value: Int64) -> UInt64 { UInt64(bitPattern: (value << 1) ^ (value >> 63)) }
func zigZagDecode32(_ value: UInt64) -> Int32 {
    let low = UInt32(truncatingIfNeeded: value)
    return Int32(bitPattern: (low >> 1) ^ (0 &- (low & 1)))
}
func zigZagDecode64(_ value: UInt64) -> Int64 { Int64(bitPattern: (value >> 1) ^ (0 &- (value & 1))) }

/// `bytes` as a String when they are valid UTF-8, else nil. Decoding repairs invalid input, so a
/// repaired result no longer matches the bytes; this avoids the stdlib's unspecialised generic
/// validator, which looks up type metadata at run time on every call.
func validatedUTF8String(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
    let text = String(decoding: bytes, as: UTF8.self)
    if bytes.allSatisfy({ $0 < 0x80 }) { return text }
    return text.utf8.elementsEqual(bytes) ? text : nil
}

func validatedUTF8String(_ bytes: [UInt8]) -> String? {
    bytes.withUnsafeBufferPointer { validatedUTF8String($0) }
}
