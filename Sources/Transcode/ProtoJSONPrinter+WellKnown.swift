// The well-known types' JSON forms (protobuf.dev/programming-guides/json, "JSON mapping" table):
// wrappers as bare values, Timestamp as RFC 3339, Duration as "1.5s", FieldMask as a
// comma-separated string, Struct/Value/ListValue as plain JSON, Any with "@type".
import FerryCore

extension ProtoJSONPrinter {
    mutating func printWellKnown(
        _ type: WellKnownType, _ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer,
        _ range: Range<Int>
    ) throws(JSONPrintError) {
        let fields = try scalarFields(layout, bytes, range)
        switch type {
        case .empty:
            out.append(contentsOf: "{}")
        case _ where type.isWrapper:
            guard let valueField = layout.field(number: 1) else { throw malformed(layout) }
            if let value = fields[1] {
                var reader = WireReader(bytes, range: value.range)
                try printScalar(valueField.kind, &reader, wireType: value.wireType)
            } else {
                try printDefault(valueField.kind)
            }
        case .timestamp:
            let seconds = Int64(bitPattern: try varint(fields[1], bytes))
            let nanos = Int32(truncatingIfNeeded: try varint(fields[2], bytes))
            // 0001-01-01T00:00:00Z ... 9999-12-31T23:59:59.999999999Z (timestamp.proto).
            guard seconds >= -62_135_596_800, seconds <= 253_402_300_799, nanos >= 0, nanos <= 999_999_999 else {
                throw JSONPrintError(reason: "Timestamp out of range: seconds \(seconds), nanos \(nanos)")
            }
            out.append(UInt8(ascii: "\""))
            CivilTime(unixSeconds: seconds).appendRFC3339(to: out)
            appendFractionalSeconds(nanos, to: out)
            out.append(contentsOf: "Z\"")
        case .duration:
            let seconds = Int64(bitPattern: try varint(fields[1], bytes))
            let nanos = Int32(truncatingIfNeeded: try varint(fields[2], bytes))
            guard abs(seconds) <= 315_576_000_000, abs(nanos) <= 999_999_999,
                seconds == 0 || nanos == 0 || (seconds < 0) == (nanos < 0)
            else {
                throw JSONPrintError(reason: "Duration out of range or with mixed signs: seconds \(seconds), nanos \(nanos)")
            }
            out.append(UInt8(ascii: "\""))
            if seconds < 0 || nanos < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: String(abs(seconds)))
            appendFractionalSeconds(abs(nanos), to: out)
            out.append(contentsOf: "s\"")
        case .fieldMask:
            var paths: [String] = []
            var reader = WireReader(bytes, range: range)
            do {
                while let (number, payload) = try reader.nextLengthDelimited() {
                    guard number == 1 else { continue }
                    paths.append(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[payload]), as: UTF8.self))
                }
            } catch {
                throw JSONPrintError(reason: error.description)
            }
            appendQuoted(try paths.map(fieldMaskPathJSON).joined(separator: ","))
        case .structValue, .listValue:
            // Struct's `fields` is a map and ListValue's `values` a repeated field: their regular
            // printing, without the wrapping object.
            guard let field = layout.field(number: 1) else { throw malformed(layout) }
            let occurrences = try ProtoJSONPrinter.occurrences(of: 1, bytes, range)
            if type == .structValue {
                try printMapField(field, occurrences, bytes)
            } else {
                try printRepeatedField(field, occurrences, bytes)
            }
        case .value:
            try printValue(layout, bytes, range)
        case .any:
            try printAny(bytes, range)
        default:
            throw malformed(layout)
        }
    }

    private mutating func printValue(_ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(JSONPrintError) {
        var reader = WireReader(bytes, range: range)
        var last: (number: Int32, wireType: WireType, range: Range<Int>)?
        do {
            while !reader.isAtEnd {
                let (number, wireType) = try reader.readTag()
                let start = reader.index
                if wireType == .lengthDelimited {
                    last = (number, wireType, try reader.readLengthDelimited())
                } else {
                    try reader.skip(wireType, number: number)
                    last = (number, wireType, start..<reader.index)
                }
            }
        } catch {
            throw JSONPrintError(reason: error.description)
        }
        // No kind, or null_value: JSON null (whatever the enum option says, as json_format).
        guard let last, let field = layout.field(number: last.number), last.number != 1 else {
            out.append(contentsOf: "null")
            return
        }
        if case .message(let nested) = field.kind {
            try printMessage(nested, bytes, last.range)
            return
        }
        if case .double = field.kind {
            var probe = WireReader(bytes, range: last.range)
            let value = Double(bitPattern: (try? probe.readFixed64()) ?? 0)
            guard value.isFinite else { throw JSONPrintError(reason: "google.protobuf.Value cannot hold \(value) in JSON") }
        }
        var valueReader = WireReader(bytes, range: last.range)
        try printScalar(field.kind, &valueReader, wireType: last.wireType)
    }

    mutating func printAny(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(JSONPrintError) {
        let typeURLRange = try ProtoJSONPrinter.occurrences(of: 1, bytes, range).last?.range
        let valueRange = try ProtoJSONPrinter.occurrences(of: 2, bytes, range).last?.range ?? range.upperBound..<range.upperBound
        guard let typeURLRange else {
            guard valueRange.isEmpty else { throw JSONPrintError(reason: "google.protobuf.Any has a value but no type_url") }
            out.append(contentsOf: "{}")
            return
        }
        let typeURL = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[typeURLRange]), as: UTF8.self)
        let typeName = String(typeURL.split(separator: "/").last ?? "")
        guard let layouts, let layout = try? layouts.layout(for: typeName) else {
            throw JSONPrintError(reason: "google.protobuf.Any: type '\(typeURL)' is not in the descriptor set")
        }
        out.append(contentsOf: "{\"@type\":")
        appendQuoted(typeURL)
        if layout.wellKnown?.isWrappedInAny == true {
            out.append(contentsOf: ",\"value\":")
            try printMessage(layout, bytes, valueRange)
            out.append(UInt8(ascii: "}"))
            return
        }
        // The embedded message's fields join the object after "@type".
        let start = out.count
        try printMessage(layout, bytes, valueRange)
        out.remove(at: start)  // its "{"
        if out[start] != UInt8(ascii: "}") { out.insert(UInt8(ascii: ","), at: start) }
    }

    /// The last occurrence of fields 1 and 2 of a small well-known message.
    private func scalarFields(
        _ layout: MessageLayout, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>
    ) throws(JSONPrintError) -> [Int32: (wireType: WireType, range: Range<Int>)] {
        var fields: [Int32: (wireType: WireType, range: Range<Int>)] = [:]
        guard layout.wellKnown?.isWrapper == true || layout.wellKnown == .timestamp || layout.wellKnown == .duration else { return fields }
        var reader = WireReader(bytes, range: range)
        do {
            while !reader.isAtEnd {
                let (number, wireType) = try reader.readTag()
                let start = reader.index
                if wireType == .lengthDelimited {
                    fields[number] = (wireType, try reader.readLengthDelimited())
                } else {
                    try reader.skip(wireType, number: number)
                    fields[number] = (wireType, start..<reader.index)
                }
            }
        } catch {
            throw JSONPrintError(reason: error.description)
        }
        return fields
    }

    static func occurrences(of number: Int32, _ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) throws(JSONPrintError) -> [Occurrence] {
        var found: [Occurrence] = []
        var reader = WireReader(bytes, range: range)
        do {
            while let (fieldNumber, payload) = try reader.nextLengthDelimited() {
                guard fieldNumber == number else { continue }
                found.append(Occurrence(field: 0, wireType: .lengthDelimited, range: payload))
            }
        } catch {
            throw JSONPrintError(reason: error.description)
        }
        return found
    }

    private func varint(_ field: (wireType: WireType, range: Range<Int>)?, _ bytes: UnsafeRawBufferPointer) throws(JSONPrintError) -> UInt64
    {
        guard let field else { return 0 }
        var reader = WireReader(bytes, range: field.range)
        do { return try reader.readVarint() } catch { throw JSONPrintError(reason: error.description) }
    }

    private func malformed(_ layout: MessageLayout) -> JSONPrintError {
        JSONPrintError(reason: "\(layout.fullName) in the descriptor set does not match the well-known type")
    }
}

/// ".5", ".500", ".000000001": 0, 3, 6 or 9 digits, as the JSON mapping prints them.
func appendFractionalSeconds(_ nanos: Int32, to out: JSONOutput) {
    guard nanos != 0 else { return }
    out.append(UInt8(ascii: "."))
    if nanos % 1_000_000 == 0 {
        appendDigits(Int64(nanos / 1_000_000), width: 3, to: out)
    } else if nanos % 1_000 == 0 {
        appendDigits(Int64(nanos / 1_000), width: 6, to: out)
    } else {
        appendDigits(Int64(nanos), width: 9, to: out)
    }
}

/// `value` (≥ 0, below 10^width) in exactly `width` decimal digits.
private func appendDigits(_ value: Int64, width: Int, to out: JSONOutput) {
    var divisor: Int64 = 1
    for _ in 1..<width { divisor *= 10 }
    while divisor > 0 {
        out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
        divisor /= 10
    }
}

extension CivilTime {
    /// `YYYY-MM-DDThh:mm:ss` (years 1 to 9999, as Timestamp allows).
    func appendRFC3339(to out: JSONOutput) {
        appendDigits(year, width: 4, to: out)
        out.append(UInt8(ascii: "-"))
        appendDigits(month, width: 2, to: out)
        out.append(UInt8(ascii: "-"))
        appendDigits(day, width: 2, to: out)
        out.append(UInt8(ascii: "T"))
        appendDigits(hour, width: 2, to: out)
        out.append(UInt8(ascii: ":"))
        appendDigits(minute, width: 2, to: out)
        out.append(UInt8(ascii: ":"))
        appendDigits(second, width: 2, to: out)
    }
}

/// A FieldMask path in JSON, as json_format writes it: every `_x` becomes `X`, all else is kept
/// (`foo_bar.baz_qux` → `fooBar.bazQux`). A path that would not read back the same — with an
/// uppercase letter, or a `_` not before a lowercase letter — has no JSON form (found by
/// fuzzing: `._tim` printed as `Tim`).
private func fieldMaskPathJSON(_ path: String) throws(JSONPrintError) -> String {
    var result = ""
    var upperNext = false
    for character in path {
        if upperNext {
            guard character.isASCII, character.isLowercase else {
                throw JSONPrintError(reason: "FieldMask path '\(path)' has no JSON form: '_' must come before a lowercase letter")
            }
            result += character.uppercased()
            upperNext = false
        } else if character == "_" {
            upperNext = true
        } else {
            guard !character.isUppercase else {
                throw JSONPrintError(reason: "FieldMask path '\(path)' has no JSON form: it has an uppercase letter")
            }
            result.append(character)
        }
    }
    guard !upperNext else { throw JSONPrintError(reason: "FieldMask path '\(path)' has no JSON form: it ends with '_'") }
    return result
}
