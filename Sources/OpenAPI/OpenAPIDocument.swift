// OpenAPI 3.1 (spec.openapis.org/oas/v3.1.0) of the REST surface Ferry serves, made at run time
// from the descriptor set and the google.api.http rules (google/api/http.proto): one operation
// per binding, additional bindings included; path variables as path parameters (a variable
// whose template has literal segments keeps them in the path: `{name=notes/*}` is
// `notes/{name}`, and the field gets `notes/` and the value), the fields the path and the body
// leave as query parameters (dotted names into nested messages, repeated fields, maps as
// `name[key]`), request and response bodies, server streams in the three forms Ferry writes,
// and errors as google.rpc.Status. The .proto comments, when the descriptor set carries them
// (`protoc --include_source_info`), become descriptions.
import SwiftProtobuf
import Transcode

public enum OpenAPIDocument {
    /// The document of `catalog`'s rules, as JSON text.
    public static func json(for catalog: RESTCatalog, title: String, version: String) -> String {
        var schemas = OpenAPISchemas(pool: catalog.pool)
        var paths: [(String, [(String, OrderedJSON)])] = []
        var operationCounts: [String: Int] = [:]
        for rule in catalog.routes.rules where !isByNameAddress(rule) {
            let method = rule.target.method
            let path = openAPIPath(rule.template)
            let baseID = method.fullName.split(separator: ".").suffix(2).joined(separator: "_")
            operationCounts[baseID, default: 0] += 1
            let count = operationCounts[baseID]!
            let operation = OrderedJSON.object(
                self.operation(rule, id: count == 1 ? baseID : "\(baseID)\(count)", pathParameters: path.parameters, schemas: &schemas))
            let verb = rule.verb.lowercased()
            let key = ["get", "put", "post", "delete", "patch", "head", "options", "trace"].contains(verb) ? verb : "x-\(verb)"
            if let index = paths.firstIndex(where: { $0.0 == path.text }) {
                paths[index].1.append((key, operation))
            } else {
                paths.append((path.text, [(key, operation)]))
            }
        }
        var components: [(String, OrderedJSON)] = []
        var index = 0
        _ = schemas.message(OpenAPISchemas.statusName)
        while index < schemas.referenced.count {
            let name = schemas.referenced[index]
            components.append((name, schemas.component(name)))
            index += 1
        }
        let tags = catalog.serviceNames.sorted().map { service in
            OpenAPISchemas.described(.object([("name", .string(service))]), catalog.pool.comments[service])
        }
        let document = OrderedJSON.object([
            ("openapi", .string("3.1.0")),
            ("info", .object([("title", .string(title)), ("version", .string(version))])),
            ("tags", .array(tags)),
            ("paths", .object(paths.map { ($0.0, .object($0.1)) })),
            ("components", .object([("schemas", .object(components.sorted { $0.0 < $1.0 }))])),
        ])
        return document.serialized()
    }

    /// `POST /package.Service/Method`, which every method has for `ferry call` and Connect: not
    /// a rule of the API's own.
    private static func isByNameAddress(_ rule: RESTRouteTable<RESTBinding>.Rule) -> Bool {
        rule.verb == "POST" && rule.template.description == rule.target.method.grpcPath
    }

    /// The OpenAPI path of a template, and its path parameters (field paths, in order).
    static func openAPIPath(_ template: PathTemplate) -> (text: String, parameters: [[String]]) {
        var parts: [String] = []
        var parameters: [[String]] = []
        var unnamed = 0
        for (index, segment) in template.segments.enumerated() {
            if let variable = template.variables.first(where: { $0.segments.contains(index) }) {
                let name = pathParameterName(variable.fieldPath)
                if case .literal(let literal) = segment {
                    parts.append(literal)
                } else if !parameters.contains(variable.fieldPath) {
                    parts.append("{\(name)}")
                    parameters.append(variable.fieldPath)
                } else {
                    // A second wildcard in one variable cannot be its own parameter: left out
                    // of the description (rare: `{name=a/*/b/*}`).
                    unnamed += 1
                    parts.append("{\(name)_\(unnamed)}")
                    parameters.append([name + "_\(unnamed)"])
                }
                continue
            }
            switch segment {
            case .literal(let literal): parts.append(literal)
            case .single, .multi:
                unnamed += 1
                parts.append("{segment\(unnamed)}")
                parameters.append(["segment\(unnamed)"])
            }
        }
        return ("/" + parts.joined(separator: "/") + (template.verb.map { ":\($0)" } ?? ""), parameters)
    }

    /// A nested field's path parameter is named with '_' between the names (`f_nested.note` is
    /// `{f_nested_note}`, the field path in `x-field-path`): OpenAPI allows dots there, but
    /// tools that fill templates with format strings read them as attribute access.
    static func pathParameterName(_ fieldPath: [String]) -> String {
        fieldPath.joined(separator: "_")
    }

    private static func operation(
        _ rule: RESTRouteTable<RESTBinding>.Rule, id: String, pathParameters: [[String]], schemas: inout OpenAPISchemas
    ) -> [(String, OrderedJSON)] {
        let binding = rule.target
        let method = binding.method
        let service = method.fullName.split(separator: ".").dropLast().joined(separator: ".")
        var operation: [(String, OrderedJSON)] = [
            ("operationId", .string(id)),
            ("tags", .array([.string(service)])),
            ("summary", .string("\(method.fullName) (gRPC \(method.grpcPath))")),
        ]
        if let comment = schemas.pool.comments[method.fullName] { operation.append(("description", .string(comment))) }
        var parameters: [OrderedJSON] = []
        for fieldPath in pathParameters {
            let template = rule.template
            let variable = template.variables.first { $0.fieldPath == fieldPath }
            let fields = try? schemas.pool.fieldPath(fieldPath, in: method.inputType)
            var parameter: [(String, OrderedJSON)] = [
                ("name", .string(pathParameterName(fieldPath))), ("in", .string("path")), ("required", .bool(true)),
                ("schema", fields?.last.map { schemas.single($0) } ?? .object([("type", .string("string"))])),
            ]
            if fieldPath.count > 1 { parameter.append(("x-field-path", .string(fieldPath.joined(separator: ".")))) }
            if let variable, variable.segments.count > 1 || template.segments[variable.segments.lowerBound] == .multi {
                let pattern = variable.segments.map { index -> String in
                    switch template.segments[index] {
                    case .literal(let literal): literal
                    case .single: "*"
                    case .multi: "**"
                    }
                }.joined(separator: "/")
                parameter.append(("description", .string("The field gets the path's segments that match '\(pattern)'.")))
            }
            parameters.append(.object(parameter))
        }
        if binding.body != .wholeMessage {
            var bound = pathParameters.map { $0.joined(separator: ".") }
            if case .field(let path) = binding.body { bound.append(path.joined(separator: ".")) }
            var chain: [String] = []
            parameters += queryParameters(method.inputType, prefix: "", protoPrefix: "", bound: bound, chain: &chain, schemas: &schemas)
        }
        if !parameters.isEmpty { operation.append(("parameters", .array(parameters))) }
        if let body = requestBody(binding, schemas: &schemas) { operation.append(("requestBody", body)) }
        operation.append(("responses", responses(binding, schemas: &schemas)))
        return operation
    }

    /// Query parameters for the fields of `typeName` that the path and the body leave: scalars,
    /// enums, repeated scalars, maps (`name[key]=value`) and the well-known types written as
    /// strings, with dotted names into nested messages (each message type once per chain).
    private static func queryParameters(
        _ typeName: String, prefix: String, protoPrefix: String, bound: [String], chain: inout [String],
        schemas: inout OpenAPISchemas
    ) -> [OrderedJSON] {
        guard let message = schemas.pool.message(named: typeName), !chain.contains(typeName) else { return [] }
        chain.append(typeName)
        defer { chain.removeLast() }
        var parameters: [OrderedJSON] = []
        for field in message.field {
            let protoPath = protoPrefix + field.name
            // Set by the path or the body: not a parameter (a message with one field bound still
            // offers its others).
            guard !bound.contains(where: { $0 == protoPath || protoPath.hasPrefix($0 + ".") }) else { continue }
            let name = prefix + DescriptorPool.jsonName(of: field)
            let nestedType = String(field.typeName.dropFirst())
            let isMap = schemas.pool.isMap(field)
            if field.type == .message && !isMap && OpenAPISchemas.wellKnown[nestedType] == nil {
                if field.label != .repeated {
                    parameters += queryParameters(
                        nestedType, prefix: name + ".", protoPrefix: protoPath + ".", bound: bound, chain: &chain, schemas: &schemas)
                }
                continue
            }
            if field.type == .message && !isMap, field.label == .repeated || !queryWellKnown.contains(nestedType) { continue }
            var parameter: [(String, OrderedJSON)] = [("name", .string(name)), ("in", .string("query")), ("schema", schemas.field(field))]
            if isMap { parameter.append(("style", .string("deepObject"))) }
            if field.label == .repeated && !isMap { parameter.append(("explode", .bool(true))) }
            parameters.append(.object(parameter))
        }
        return parameters
    }

    /// Well-known types a query parameter can carry: those written as one string.
    private static let queryWellKnown: Set<String> = [
        "google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask", "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue", "google.protobuf.Int64Value", "google.protobuf.UInt64Value", "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value", "google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue",
    ]

    private static func requestBody(_ binding: RESTBinding, schemas: inout OpenAPISchemas) -> OrderedJSON? {
        let schema: OrderedJSON
        switch binding.body {
        case .none: return nil
        case _ where binding.requestHTTPBody != nil:
            return .object([
                ("required", .bool(true)),
                (
                    "content",
                    .object([("*/*", .object([("schema", .object([("type", .string("string")), ("format", .string("binary"))]))]))])
                ),
            ])
        case .wholeMessage:
            let message = schemas.message(binding.method.inputType)
            schema = binding.method.clientStreaming ? .object([("type", .string("array")), ("items", message)]) : message
        case .field(let path):
            guard let field = try? schemas.pool.fieldPath(path, in: binding.method.inputType).last else { return nil }
            schema = schemas.field(field)
        }
        return .object([("required", .bool(true)), ("content", .object([("application/json", .object([("schema", schema)]))]))])
    }

    private static func responses(_ binding: RESTBinding, schemas: inout OpenAPISchemas) -> OrderedJSON {
        let method = binding.method
        let success: OrderedJSON
        if binding.responseHTTPBody != nil {
            success = .object([
                ("description", .string("The reply's google.api.HttpBody: its data, with its content type")),
                (
                    "content",
                    .object([("*/*", .object([("schema", .object([("type", .string("string")), ("format", .string("binary"))]))]))])
                ),
            ])
        } else {
            var reply = schemas.message(method.outputType)
            if let path = binding.responseBody, let field = try? schemas.pool.fieldPath(path, in: method.outputType).last {
                reply = schemas.field(field)
            }
            if method.serverStreaming {
                success = .object([
                    ("description", .string("The stream's messages: a JSON array (by default), one per line (NDJSON) or SSE events")),
                    (
                        "content",
                        .object([
                            ("application/json", .object([("schema", .object([("type", .string("array")), ("items", reply)]))])),
                            ("application/x-ndjson", .object([("schema", reply)])),
                            ("text/event-stream", .object([("schema", .object([("type", .string("string"))]))])),
                        ])
                    ),
                ])
            } else {
                success = .object([
                    ("description", .string("The reply")), ("content", .object([("application/json", .object([("schema", reply)]))])),
                ])
            }
        }
        let error = OrderedJSON.object([
            ("description", .string("An error: google.rpc.Status with the HTTP status of its code")),
            ("content", .object([("application/json", .object([("schema", schemas.message(OpenAPISchemas.statusName))]))])),
        ])
        return .object([("200", success), ("default", error)])
    }
}
