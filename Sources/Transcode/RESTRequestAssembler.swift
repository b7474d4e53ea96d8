// Builds the gRPC request message of a REST call from its three sources (google/api/http.proto,
// "HTTP rule"): the body (the whole message, one field, or none), the path variables, and the
// query parameters for every field the path and the body leave. Each source is turned into a
// small JSON object for the proto3 JSON parser, and the binary results are concatenated:
// protobuf's merge semantics (last scalar wins, messages merge, repeated fields append) then
// give the path precedence over the body, as grpc-gateway and Envoy do.
import FerryCore

/// Why a REST request cannot become a gRPC request: always answered with 400.
public struct RESTRequestError: Error, Equatable, CustomStringConvertible {
    public var message: String

    public var description: String { message }
}

public struct RESTRequestAssembler: Sendable {
    let transcoder: ProtoJSONTranscoder
    public let options: JSONParseOptions

    public init(transcoder: ProtoJSONTranscoder, options: JSONParseOptions = JSONParseOptions()) {
        self.transcoder = transcoder
        self.options = options
    }

    /// The request messages of a client-streaming call: the body is a JSON array of whole
    /// messages (`body: "*"`); path variables and query parameters apply to each.
    public func requestStream(
        for binding: RESTBinding, pathBindings: [PathBinding], query: Substring?,
        body: [UInt8]
    ) throws(RESTRequestError) -> [[UInt8]] {
        guard binding.body == .wholeMessage else {
            throw RESTRequestError(message: "\(binding.method.fullName) streams its requests: its rule needs body \"*\"")
        }
        let messages: [[UInt8]]
        do {
            messages = try withTypedUnsafeBytes(body) { bytes throws(JSONParseError) in
                try transcoder.binaries(fromJSONArray: bytes, messageType: binding.method.inputType, options: options)
            }
        } catch {
            throw RESTRequestError(message: "request body: \(error)")
        }
        // The path's fields, merged into every message (query parameters are refused: body "*").
        let shared = try requestMessage(for: binding, pathBindings: pathBindings, query: query, body: [])
        return messages.map { $0 + shared }
    }

    /// `requestMessage` for a body held in an array.
    public func requestMessage(
        for binding: RESTBinding, pathBindings: [PathBinding], query: Substring?,
        body: [UInt8], contentType: String? = nil
    ) throws(RESTRequestError) -> [UInt8] {
        try withTypedUnsafeBytes(body) { bytes throws(RESTRequestError) in
            try requestMessage(for: binding, pathBindings: pathBindings, query: query, body: bytes, contentType: contentType)
        }
    }

    /// The binary request message. `query` is the raw query string (after '?', not decoded);
    /// `contentType` is the request's, which an HttpBody body carries along.
    public func requestMessage(
        for binding: RESTBinding, pathBindings: [PathBinding], query: Substring?,
        body: UnsafeRawBufferPointer, contentType: String? = nil
    ) throws(RESTRequestError) -> [UInt8] {
        let inputType = binding.method.inputType
        var message: [UInt8] = []
        if let placement = binding.requestHTTPBody {
            message = placement.encode(contentType: contentType ?? "", data: body)
        } else if !body.allSatisfy(isJSONWhitespace) {
            switch binding.body {
            case .none: throw RESTRequestError(message: "\(binding.method.fullName) takes no request body")
            case .wholeMessage: message = try parse(body, prefix: [], messageType: inputType)
            case .field(let path): message = try parse(body, prefix: path, messageType: inputType)
            }
        }
        var bound = pathBindings.map { $0.fieldPath.joined(separator: ".") }
        if case .field(let path) = binding.body { bound.append(path.joined(separator: ".")) }
        let parameters = try QueryParameter.parse(query ?? "")
        if let fill = binding.updateMask, !message.isEmpty,
            !parameters.contains(where: { $0.fieldPath.first.map(fill.fieldNames.contains) ?? false })
        {
            message += try updateMask(fill, body: body)
        }
        for parameter in parameters {
            if binding.body == .wholeMessage {
                throw RESTRequestError(message: "query parameter '\(parameter.name)' is not allowed: the body is the whole request message")
            }
            let name = parameter.fieldPath.joined(separator: ".")
            if let owner = bound.first(where: { name == $0 || name.hasPrefix($0 + ".") }) {
                throw RESTRequestError(message: "query parameter '\(parameter.name)' sets '\(owner)', which the path or the body sets")
            }
            message += try parseValue(
                parameter.value, at: parameter.fieldPath, mapKey: parameter.mapKey,
                messageType: inputType, source: "query parameter '\(parameter.name)'")
        }
        for binding in pathBindings {
            message += try parseValue(
                binding.value, at: binding.fieldPath, mapKey: nil, messageType: inputType,
                source: "path variable '\(binding.fieldPath.joined(separator: "."))'")
        }
        return message
    }

    /// The `update_mask` field naming what the body sets (proto field names, nested ones
    /// dotted: `{"title": …, "author": {"name": …}}` is `title,author.name`); nothing when the
    /// body names no field.
    private func updateMask(_ fill: UpdateMaskFill, body: UnsafeRawBufferPointer) throws(RESTRequestError) -> [UInt8] {
        let paths: [String]
        do {
            paths = try transcoder.fieldMaskPaths(ofJSONObject: body, messageType: fill.resourceType)
        } catch {
            throw RESTRequestError(message: "request body: \(error)")
        }
        guard !paths.isEmpty else { return [] }
        var mask = WireWriter()
        for path in paths { mask.writeLengthDelimited(1, Array(path.utf8)) }
        var field = WireWriter()
        field.writeLengthDelimited(fill.fieldNumber, mask.bytes)
        return field.bytes
    }

    /// `body` parsed as the value at `prefix` (`{"a":{"b": body}}`); error offsets stay those of the body.
    private func parse(_ body: UnsafeRawBufferPointer, prefix: [String], messageType: String) throws(RESTRequestError) -> [UInt8] {
        var document: [UInt8] = []
        for name in prefix { document += Array("{\(jsonString(name)):".utf8) }
        let bodyStart = document.count
        document.append(contentsOf: body)
        document += [UInt8](repeating: UInt8(ascii: "}"), count: prefix.count)
        do throws(JSONParseError) {
            return try transcoder.binary(fromJSON: document, messageType: messageType, options: options)
        } catch {
            var error = error
            error.offset = max(0, min(error.offset - bodyStart, body.count))
            throw RESTRequestError(message: "request body: \(error)")
        }
    }

    /// One text value (from the path or the query) set at `fieldPath`, typed by the field.
    private func parseValue(
        _ value: String, at fieldPath: [String], mapKey: String?, messageType: String,
        source: String
    ) throws(RESTRequestError) -> [UInt8] {
        let field: FieldLayout
        do {
            field = try transcoder.field(at: fieldPath, in: messageType)
        } catch {
            // ignore_unknown_fields covers query parameters too (never the path: it is checked at startup).
            if options.ignoreUnknownFields { return [] }
            throw RESTRequestError(message: "unknown \(source): \(error.reason)")
        }
        var valueKind = field.kind
        if field.isMap {
            guard mapKey != nil, case .message(let entry) = field.kind, let entryValue = entry.field(number: 2) else {
                throw RESTRequestError(message: "\(source): a map field is set as \(field.name)[key]=value")
            }
            valueKind = entryValue.kind
        } else if mapKey != nil {
            throw RESTRequestError(message: "\(source): '\(field.name)' is not a map field")
        }
        guard let literal = jsonLiteral(value, kind: valueKind) else {
            throw RESTRequestError(message: "\(source): '\(value)' is not a valid \(valueKind) value")
        }
        var json = ""
        for name in fieldPath { json += "{\(jsonString(name)):" }
        if let mapKey { json += "{\(jsonString(mapKey)):" }
        json += field.isRepeated && !field.isMap ? "[\(literal)]" : literal
        if mapKey != nil { json += "}" }
        json += String(repeating: "}", count: fieldPath.count)
        do throws(JSONParseError) {
            return try transcoder.binary(fromJSON: Array(json.utf8), messageType: messageType, options: options)
        } catch {
            throw RESTRequestError(message: "\(source): \(error.reason)")
        }
    }
}

/// A text value from a URL as a JSON value of `kind`: numbers and enum names as strings (the
/// JSON parser reads both), bools bare; messages only when they are well-known types with a
/// string form (Timestamp, Duration, FieldMask, wrappers).
private func jsonLiteral(_ value: String, kind: FieldKind) -> String? {
    switch kind {
    case .bool:
        switch value {
        case "true", "1": return "true"
        case "false", "0": return "false"
        default: return nil
        }
    case .enumeration:
        return Int32(value) != nil ? value : jsonString(value)
    case .message(let layout):
        guard let wellKnown = layout.wellKnown else { return nil }
        switch wellKnown {
        case .timestamp, .duration, .fieldMask, .stringValue, .bytesValue, .int64Value, .uint64Value,
            .int32Value, .uint32Value, .doubleValue, .floatValue:
            return jsonString(value)
        case .boolValue:
            return jsonLiteral(value, kind: .bool)
        default:
            return nil
        }
    default:
        return jsonString(value)
    }
}

/// A JSON string literal for `text` (the printer's escaping).
public func jsonString(_ text: String) -> String {
    var printer = ProtoJSONPrinter(options: JSONPrintOptions(), layouts: nil)
    printer.appendQuoted(text)
    return String(decoding: printer.out.bytes, as: UTF8.self)
}

private func isJSONWhitespace(_ byte: UInt8) -> Bool {
    byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
}

/// One query parameter: `a.b.c=v`, or `labels[key]=v` for a map field (percent-decoding and
/// '+' as space, as HTML forms and grpc-gateway have it).
struct QueryParameter: Equatable {
    var name: String
    var fieldPath: [String]
    var mapKey: String?
    var value: String

    static func parse(_ query: Substring) throws(RESTRequestError) -> [QueryParameter] {
        var parameters: [QueryParameter] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = formDecoded(parts[0]), let value = formDecoded(parts.count == 2 ? parts[1] : "") else {
                throw RESTRequestError(message: "query parameter '\(pair)' has invalid percent-encoding")
            }
            var path = name
            var mapKey: String?
            if let open = name.firstIndex(of: "["), name.hasSuffix("]") {
                path = String(name[..<open])
                mapKey = String(name[name.index(after: open)..<name.index(before: name.endIndex)])
            }
            let fieldPath = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !fieldPath.contains(where: \.isEmpty) else {
                throw RESTRequestError(message: "query parameter '\(name)' is not a field path")
            }
            parameters.append(QueryParameter(name: name, fieldPath: fieldPath, mapKey: mapKey, value: value))
        }
        return parameters
    }

    private static func formDecoded(_ text: Substring) -> String? {
        formDecodedBytes(text).flatMap { validatedUTF8String($0) }
    }
}

/// The bytes of a query component, percent-decoded with '+' as space (HTML forms'
/// application/x-www-form-urlencoded); nil when a '%' is not followed by two hex digits.
public func formDecodedBytes(_ text: Substring) -> [UInt8]? {
    var bytes: [UInt8] = []
    let utf8 = Array(text.utf8)
    bytes.reserveCapacity(utf8.count)
    var index = 0
    while index < utf8.count {
        switch utf8[index] {
        case UInt8(ascii: "+"):
            bytes.append(0x20)
            index += 1
        case UInt8(ascii: "%"):
            guard index + 2 < utf8.count, let high = hexValue(utf8[index + 1]), let low = hexValue(utf8[index + 2]) else { return nil }
            bytes.append(high << 4 | low)
            index += 3
        default:
            bytes.append(utf8[index])
            index += 1
        }
    }
    return bytes
}
