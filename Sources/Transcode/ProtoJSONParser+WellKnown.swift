// Reading the well-known types' JSON forms back into wire format (the inverse of
// ProtoJSONPrinter+WellKnown.swift).
import FerryCore

extension ProtoJSONParser {
    mutating func parseWellKnown(_ type: WellKnownType, _ layout: MessageLayout, into writer: inout WireWriter) throws(JSONParseError) {
        let offset = scanner.nextTokenOffset()
        switch type {
        case .empty:
            try parseObject(layout, into: &writer)
        case _ where type.isWrapper:
            guard let field = layout.field(number: 1) else { throw scanner.error("\(layout.fullName) has no value field") }
            switch field.kind {
            case .string: writer.writeLengthDelimited(1, try scanner.readString().utf8)
            case .bytes: try parseBytes(1, into: &writer)
            default:
                writer.writeTag(1, field.kind.wireType)
                try parseScalar(field.kind, into: &writer, ignoringUnknownEnum: false)
            }
        case .timestamp:
            let text = try scanner.readString()
            guard let (seconds, nanos) = parseTimestamp(text) else {
                throw scanner.error("'\(text)' is not an RFC 3339 timestamp between years 1 and 9999", at: offset)
            }
            writeSecondsAndNanos(seconds, nanos, into: &writer)
        case .duration:
            let text = try scanner.readString()
            guard let (seconds, nanos) = parseDuration(text) else {
                throw scanner.error("'\(text)' is not a duration like \"1.5s\" within ±315576000000s", at: offset)
            }
            writeSecondsAndNanos(seconds, nanos, into: &writer)
        case .fieldMask:
            let text = try scanner.readString()
            // "" is no path; otherwise every comma separates one, empty ones included, as
            // json_format reads it and the printer writes it (found by fuzzing).
            for path in text.isEmpty ? [] : text.split(separator: ",", omittingEmptySubsequences: false) {
                guard !path.contains("_") else { throw scanner.error("FieldMask path '\(path)' must be lowerCamelCase", at: offset) }
                writer.writeLengthDelimited(1, snakeCase(path).utf8)
            }
        case .structValue:
            guard let field = layout.field(number: 1) else { throw scanner.error("malformed google.protobuf.Struct") }
            scanner.path.append(.field("fields"))
            defer { scanner.path.removeLast() }
            try parseMapValues(field, into: &writer)
        case .listValue:
            guard let field = layout.field(number: 1), case .message(let valueLayout) = field.kind else {
                throw scanner.error("malformed google.protobuf.ListValue")
            }
            try scanner.expect(UInt8(ascii: "["))
            try scanner.enter()
            if !scanner.take(UInt8(ascii: "]")) {
                repeat {
                    let mark = writer.beginLengthDelimited(1)
                    try parseWellKnown(.value, valueLayout, into: &writer)
                    writer.endLengthDelimited(mark)
                } while scanner.take(UInt8(ascii: ","))
                try scanner.expect(UInt8(ascii: "]"))
            }
            scanner.depth -= 1
        case .value:
            try parseValue(layout, into: &writer)
        case .any:
            try parseAny(layout, into: &writer)
        default:
            throw scanner.error("internal: \(type.rawValue)")
        }
    }

    /// google.protobuf.Value: any JSON value, as the member of its `kind` oneof.
    private mutating func parseValue(_ layout: MessageLayout, into writer: inout WireWriter) throws(JSONParseError) {
        switch scanner.peek() {
        case UInt8(ascii: "n"):
            guard scanner.takeNull() else { throw scanner.unexpected("a value") }
            writer.writeTag(1, .varint)
            writer.writeVarint(0)
        case UInt8(ascii: "\""):
            writer.writeLengthDelimited(3, try scanner.readString().utf8)
        case UInt8(ascii: "t"), UInt8(ascii: "f"):
            writer.writeTag(4, .varint)
            writer.writeVarint(try scanner.readBool() ? 1 : 0)
        case UInt8(ascii: "{"):
            guard let field = layout.field(number: 5), case .message(let structLayout) = field.kind else {
                throw scanner.error("malformed google.protobuf.Value")
            }
            let mark = writer.beginLengthDelimited(5)
            try parseWellKnown(.structValue, structLayout, into: &writer)
            writer.endLengthDelimited(mark)
        case UInt8(ascii: "["):
            guard let field = layout.field(number: 6), case .message(let listLayout) = field.kind else {
                throw scanner.error("malformed google.protobuf.Value")
            }
            let mark = writer.beginLengthDelimited(6)
            try parseWellKnown(.listValue, listLayout, into: &writer)
            writer.endLengthDelimited(mark)
        default:
            let offset = scanner.nextTokenOffset()
            let text = try scanner.readNumberText()
            guard let number = Double(text), number.isFinite else { throw scanner.error("\(text) is out of range", at: offset) }
            writer.writeTag(2, .fixed64)
            writer.writeFixed64(number.bitPattern)
        }
    }

    /// Struct's `fields`: a JSON object of Values.
    private mutating func parseMapValues(_ field: FieldLayout, into writer: inout WireWriter) throws(JSONParseError) {
        guard case .message(let entry) = field.kind, let valueField = entry.field(number: 2),
            case .message(let valueLayout) = valueField.kind
        else { throw scanner.error("malformed google.protobuf.Struct") }
        try scanner.expect(UInt8(ascii: "{"))
        try scanner.enter()
        if !scanner.take(UInt8(ascii: "}")) {
            repeat {
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                let entry = writer.beginLengthDelimited(field.number)
                writer.writeLengthDelimited(1, key.utf8)
                let value = writer.beginLengthDelimited(2)
                try parseWellKnown(.value, valueLayout, into: &writer)
                writer.endLengthDelimited(value)
                writer.endLengthDelimited(entry)
            } while scanner.take(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
        }
        scanner.depth -= 1
    }

    /// google.protobuf.Any: `{"@type": "type.googleapis.com/pkg.Msg", ...fields}`, or with a
    /// `"value"` key for well-known types. "@type" may come anywhere in the object.
    private mutating func parseAny(_ layout: MessageLayout, into writer: inout WireWriter) throws(JSONParseError) {
        let start = scanner.nextTokenOffset()
        guard let typeURL = try findTypeURL() else {
            // `{}` is the empty Any, as the printer writes it (json_format and protojson agree;
            // found by fuzzing).
            try scanner.expect(UInt8(ascii: "{"))
            if scanner.take(UInt8(ascii: "}")) { return }
            throw scanner.error("google.protobuf.Any needs an \"@type\"", at: start)
        }
        let typeName = String(typeURL.split(separator: "/").last ?? "")
        guard let embedded = try? layouts.layout(for: typeName) else {
            throw scanner.error("google.protobuf.Any: type '\(typeURL)' is not in the descriptor set", at: start)
        }
        scanner.index = start
        writer.writeLengthDelimited(1, typeURL.utf8)
        let value = writer.beginLengthDelimited(2)
        if embedded.wellKnown?.isWrappedInAny == true {
            var found = false
            try scanner.expect(UInt8(ascii: "{"))
            try scanner.enter()
            repeat {
                let keyOffset = scanner.nextTokenOffset()
                let key = try scanner.readString()
                try scanner.expect(UInt8(ascii: ":"))
                switch key {
                case "@type":
                    try scanner.skipValue()
                case "value" where !found:
                    try parseMessage(embedded, into: &writer)
                    found = true
                default:
                    throw scanner.error("unknown field '\(key)' in google.protobuf.Any of \(typeName)", at: keyOffset)
                }
            } while scanner.take(UInt8(ascii: ","))
            try scanner.expect(UInt8(ascii: "}"))
            scanner.depth -= 1
            guard found else { throw scanner.error("google.protobuf.Any of \(typeName) needs a \"value\"", at: start) }
        } else {
            try parseObject(embedded, ignoring: "@type", into: &writer)
        }
        writer.endLengthDelimited(value, droppingIfEmpty: true)
    }

    /// Looks ahead through the object for its "@type" (the scanner is left where it was).
    private mutating func findTypeURL() throws(JSONParseError) -> String? {
        let start = scanner.nextTokenOffset()
        defer { scanner.index = start }
        try scanner.expect(UInt8(ascii: "{"))
        if scanner.take(UInt8(ascii: "}")) { return nil }
        repeat {
            let key = try scanner.readString()
            try scanner.expect(UInt8(ascii: ":"))
            if key == "@type" { return try scanner.readString() }
            try scanner.skipValue()
        } while scanner.take(UInt8(ascii: ","))
        return nil
    }

    private func writeSecondsAndNanos(_ seconds: Int64, _ nanos: Int32, into writer: inout WireWriter) {
        if seconds != 0 {
            writer.writeTag(1, .varint)
            writer.writeVarint(UInt64(bitPattern: seconds))
        }
        if nanos != 0 {
            writer.writeTag(2, .varint)
            writer.writeVarint(UInt64(bitPattern: Int64(nanos)))
        }
    }
}

/// `2017-01-15T01:30:15.01Z` or with an offset (`+01:00`): seconds since the epoch and nanos.
func parseTimestamp(_ text: String) -> (Int64, Int32)? {
    let bytes = Array(text.utf8)
    func number(_ range: Range<Int>) -> Int64? {
        guard range.upperBound <= bytes.count, range.allSatisfy({ bytes[$0] >= 48 && bytes[$0] <= 57 }) else { return nil }
        return range.reduce(0) { $0 * 10 + Int64(bytes[$1] - 48) }
    }
    guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
        bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
        bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
        let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
        let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
        year >= 1, (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
    else { return nil }
    var index = 19
    var nanos: Int32 = 0
    if bytes[index] == UInt8(ascii: ".") {
        index += 1
        let start = index
        while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 { index += 1 }
        guard index > start, index - start <= 9, let fraction = number(start..<index) else { return nil }
        nanos = Int32(fraction * Int64(pow10(9 - (index - start))))
    }
    guard index < bytes.count else { return nil }
    var offsetSeconds: Int64 = 0
    switch bytes[index] {
    case UInt8(ascii: "Z"), UInt8(ascii: "z"):
        index += 1
    case UInt8(ascii: "+"), UInt8(ascii: "-"):
        guard bytes.count - index == 6, bytes[index + 3] == UInt8(ascii: ":"),
            let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6),
            hours < 24, minutes < 60
        else { return nil }
        offsetSeconds = (hours * 3_600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
        index += 6
    default:
        return nil
    }
    guard index == bytes.count else { return nil }
    let days = [31, 28 + (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 1 : 0), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
    guard day <= days[Int(month) - 1] else { return nil }
    let seconds = CivilTime.unixSeconds(year: year, month: month, day: day, hour: hour, minute: minute, second: second) - offsetSeconds
    guard seconds >= -62_135_596_800, seconds <= 253_402_300_799 else { return nil }
    return (seconds, nanos)
}

/// `-1.5s`, `3s`, `0.000001s`: seconds and nanos with the same sign.
func parseDuration(_ text: String) -> (Int64, Int32)? {
    guard text.hasSuffix("s") else { return nil }
    var body = Substring(text.dropLast())
    let negative = body.hasPrefix("-")
    if negative { body = body.dropFirst() }
    let parts = body.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
    guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(\.isASCIIDigit), let seconds = Int64(whole),
        seconds <= 315_576_000_000
    else { return nil }
    var nanos: Int32 = 0
    if parts.count == 2 {
        let fraction = parts[1]
        guard !fraction.isEmpty, fraction.count <= 9, fraction.allSatisfy(\.isASCIIDigit), let value = Int64(fraction) else { return nil }
        nanos = Int32(value * Int64(pow10(9 - fraction.count)))
    }
    return negative ? (-seconds, -nanos) : (seconds, nanos)
}

private func pow10(_ exponent: Int) -> Int {
    (0..<exponent).reduce(1) { result, _ in result * 10 }
}

/// FieldMask paths: `fooBar.baz` ↔ `foo_bar.baz`.
private func snakeCase(_ path: Substring) -> String {
    var result = ""
    for character in path {
        if character.isUppercase {
            result += "_" + character.lowercased()
        } else {
            result.append(character)
        }
    }
    return result
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
