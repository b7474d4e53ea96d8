// The proto3 JSON mapping for the messages of a descriptor set, both ways; what REST requests
// and responses go through. Read-only after init: one instance serves every worker.
import FerryCore

public final class ProtoJSONTranscoder: Sendable {
    private let layouts: MessageLayouts

    public init(pool: DescriptorPool) throws(DescriptorError) {
        layouts = try MessageLayouts(pool: pool)
    }

    /// The JSON form of a binary message of type `messageType` (fully qualified, no dot), or
    /// of its field at `fieldPath` (.proto names: a rule's `response_body`).
    public func json(
        fromBinary bytes: UnsafeRawBufferPointer, messageType: String, fieldPath: [String]? = nil,
        options: JSONPrintOptions = JSONPrintOptions()
    ) throws(JSONPrintError) -> [UInt8] {
        let layout: MessageLayout
        do { layout = try layouts.layout(for: messageType) } catch { throw JSONPrintError(reason: error.reason) }
        // JSON is rarely more than twice the binary (base64 is 4/3; keys add the rest): one allocation.
        var printer = ProtoJSONPrinter(options: options, layouts: layouts, capacity: 2 * bytes.count + 64)
        if let fieldPath {
            try printer.printField(at: fieldPath[...], layout, bytes, 0..<bytes.count)
        } else {
            try printer.printMessage(layout, bytes, 0..<bytes.count)
        }
        return printer.out.bytes
    }

    /// The field paths a JSON object sets in a message of `messageType`, as a FieldMask names
    /// them (proto names, dotted into nested messages; a map, a list, a well-known type or an
    /// empty object is one path), sorted. Keys the message does not have are left out: the
    /// parser answers for them.
    public func fieldMaskPaths(ofJSONObject bytes: UnsafeRawBufferPointer, messageType: String) throws(JSONParseError) -> [String] {
        guard case .object(let members) = try JSONValue(parsing: bytes) else { return [] }
        let layout: MessageLayout
        do { layout = try layouts.layout(for: messageType) } catch { throw JSONParseError(offset: 0, path: "", reason: error.reason) }
        var paths: [String] = []
        func collect(_ members: [String: JSONValue], _ layout: MessageLayout, prefix: String) {
            for (key, value) in members {
                guard let index = layout.indexByJSONName[key] else { continue }
                let field = layout.fields[index]
                if case .object(let inner) = value, !inner.isEmpty, case .message(let nested) = field.kind, !field.isMap,
                    !field.isRepeated, nested.wellKnown == nil
                {
                    collect(inner, nested, prefix: prefix + field.name + ".")
                } else {
                    paths.append(prefix + field.name)
                }
            }
        }
        collect(members, layout, prefix: "")
        return paths.sorted()
    }

    /// A REST error body: google.rpc.Status as JSON, `{"code":5,"message":"…","details":[]}`
    /// (the form grpc-gateway answers with; Envoy's transcoder answers text for some errors).
    public static func statusJSON(code: Int, message: String) -> [UInt8] {
        Array("{\"code\":\(code),\"message\":\(jsonString(message)),\"details\":[]}".utf8)
    }

    /// `statusJSON` with the `details` of a binary google.rpc.Status (google/rpc/status.proto:
    /// `repeated google.protobuf.Any details = 3`), as a backend sends it in the
    /// `grpc-status-details-bin` trailer. Each detail whose type is in the descriptor set is
    /// printed as JSON Any; one whose type is not keeps its `@type` and its bytes as base64
    /// `value`, so that nothing the backend said is lost. Code and message stay those of
    /// `grpc-status` and `grpc-message`, which gRPC makes authoritative.
    public func statusJSON(code: Int, message: String, details: UnsafeRawBufferPointer) -> [UInt8] {
        var printer = ProtoJSONPrinter(options: JSONPrintOptions(), layouts: layouts)
        printer.out.append(contentsOf: Self.statusJSON(code: code, message: message))
        printer.out.removeLast(2)  // "]}"
        let anys: [ProtoJSONPrinter.Occurrence]
        do { anys = try ProtoJSONPrinter.occurrences(of: 3, details, 0..<details.count) } catch { anys = [] }
        for (position, any) in anys.enumerated() {
            if position > 0 { printer.out.append(UInt8(ascii: ",")) }
            let start = printer.out.count
            do throws(JSONPrintError) {
                try printer.printAny(details, any.range)
            } catch {
                printer.out.removeSubrange(from: start)
                let typeURL = (try? ProtoJSONPrinter.occurrences(of: 1, details, any.range).last?.range) ?? nil
                let value = (try? ProtoJSONPrinter.occurrences(of: 2, details, any.range).last?.range) ?? nil
                printer.out.append(contentsOf: "{\"@type\":")
                printer.appendQuoted(typeURL.map { String(decoding: UnsafeRawBufferPointer(rebasing: details[$0]), as: UTF8.self) } ?? "")
                printer.out.append(contentsOf: ",\"value\":\"")
                printer.out.append(contentsOf: Base64.encode(UnsafeRawBufferPointer(rebasing: details[value ?? 0..<0])))
                printer.out.append(contentsOf: "\"}")
            }
        }
        printer.out.append(contentsOf: "]}")
        return printer.out.bytes
    }

    /// One `google.protobuf.Any` of a binary google.rpc.Status's `details`.
    public struct StatusDetail: Equatable, Sendable {
        public var typeURL: String
        public var value: [UInt8]

        /// The message type the URL names (what follows its last '/').
        public var typeName: Substring { typeURL.split(separator: "/").last ?? "" }
    }

    /// The `details` of a binary google.rpc.Status (google/rpc/status.proto, field 3); none
    /// when it is not valid protobuf.
    public static func statusDetails(_ status: UnsafeRawBufferPointer) -> [StatusDetail] {
        do throws(JSONPrintError) {
            return try ProtoJSONPrinter.occurrences(of: 3, status, 0..<status.count).map { any throws(JSONPrintError) in
                let typeURL = try ProtoJSONPrinter.occurrences(of: 1, status, any.range).last?.range
                let value = try ProtoJSONPrinter.occurrences(of: 2, status, any.range).last?.range
                return StatusDetail(
                    typeURL: typeURL.map { String(decoding: UnsafeRawBufferPointer(rebasing: status[$0]), as: UTF8.self) } ?? "",
                    value: value.map { Array(UnsafeRawBufferPointer(rebasing: status[$0])) } ?? [])
            }
        } catch {
            return []
        }
    }

    /// The binary forms of a JSON array of messages (a client stream sent over REST).
    public func binaries(
        fromJSONArray bytes: UnsafeRawBufferPointer, messageType: String,
        options: JSONParseOptions = JSONParseOptions()
    ) throws(JSONParseError) -> [[UInt8]] {
        let layout: MessageLayout
        do { layout = try layouts.layout(for: messageType) } catch { throw JSONParseError(offset: 0, path: "", reason: error.reason) }
        var parser = ProtoJSONParser(scanner: JSONScanner(bytes), options: options, layouts: layouts)
        var messages: [[UInt8]] = []
        try parser.scanner.expect(UInt8(ascii: "["))
        if !parser.scanner.take(UInt8(ascii: "]")) {
            repeat {
                parser.scanner.path = [.element(messages.count)]
                var writer = WireWriter()
                try parser.parseMessage(layout, into: &writer)
                messages.append(writer.bytes)
            } while parser.scanner.take(UInt8(ascii: ","))
            try parser.scanner.expect(UInt8(ascii: "]"))
        }
        try parser.scanner.finish()
        return messages
    }

    /// `binary(fromJSON:)` for JSON held in an array.
    public func binary(
        fromJSON json: [UInt8], messageType: String,
        options: JSONParseOptions = JSONParseOptions()
    ) throws(JSONParseError) -> [UInt8] {
        try withTypedUnsafeBytes(json) { bytes throws(JSONParseError) in
            try binary(fromJSON: bytes, messageType: messageType, options: options)
        }
    }

    /// The field at a dotted path from `messageType`; every step but the last is a message field.
    func field(at path: [String], in messageType: String) throws(DescriptorError) -> FieldLayout {
        var layout = try layouts.layout(for: messageType)
        for (position, name) in path.enumerated() {
            guard let index = layout.indexByJSONName[name] else {
                throw DescriptorError("'\(name)' is not a field of \(layout.fullName)")
            }
            let field = layout.fields[index]
            if position == path.count - 1 { return field }
            guard case .message(let nested) = field.kind, !field.isRepeated else {
                throw DescriptorError("'\(name)' is not a singular message field of \(layout.fullName)")
            }
            layout = nested
        }
        throw DescriptorError("an empty field path")
    }

    /// The binary form of a JSON message of type `messageType`.
    public func binary(
        fromJSON bytes: UnsafeRawBufferPointer, messageType: String,
        options: JSONParseOptions = JSONParseOptions()
    ) throws(JSONParseError) -> [UInt8] {
        let layout: MessageLayout
        do { layout = try layouts.layout(for: messageType) } catch { throw JSONParseError(offset: 0, path: "", reason: error.reason) }
        var parser = ProtoJSONParser(scanner: JSONScanner(bytes), options: options, layouts: layouts)
        var writer = WireWriter()
        writer.bytes.reserveCapacity(bytes.count)
        try parser.parseMessage(layout, into: &writer)
        try parser.scanner.finish()
        return writer.bytes
    }
}
