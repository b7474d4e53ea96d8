// Which REST requests call which gRPC methods: the google.api.http rules of the exposed
// services, checked against the descriptors at startup (googleapis google/api/http.proto).
import GoogleAPI
import SwiftProtobuf

/// One gRPC method as the transcoder needs it.
public struct RESTMethod: Sendable, Equatable {
    /// `node.v1.NodeService.GetNode`.
    public var fullName: String
    /// `/node.v1.NodeService/GetNode`, the gRPC request path.
    public var grpcPath: String
    /// Fully-qualified message names without the leading dot.
    public var inputType: String
    public var outputType: String
    public var clientStreaming: Bool
    public var serverStreaming: Bool
    /// `option idempotency_level = NO_SIDE_EFFECTS`: a Connect client may call it with GET.
    public var hasNoSideEffects = false

    /// Either side streams.
    public var isStreaming: Bool { clientStreaming || serverStreaming }
}

/// Where the request body goes (HttpRule.body).
public enum RESTBody: Sendable, Equatable {
    /// No body: everything comes from the path and the query.
    case none
    /// `body: "*"`: the body is the whole request message.
    case wholeMessage
    /// `body: "field"`: the body is that field; the rest comes from the path and the query.
    case field([String])
}

/// A rule bound to its method.
public struct RESTBinding: Sendable, Equatable {
    public var method: RESTMethod
    public var body: RESTBody
    /// HttpRule.response_body: the response is that field of the reply, not the whole reply.
    public var responseBody: [String]?
    /// Set when the body (the whole message or the body field) is a google.api.HttpBody: the
    /// HTTP body then passes through as is.
    public var requestHTTPBody: HTTPBodyPlacement?
    /// Set when the reply (or its response_body field) is a google.api.HttpBody.
    public var responseHTTPBody: HTTPBodyPlacement?
    /// Set for a PATCH whose body is a message field and whose request has a
    /// `google.protobuf.FieldMask update_mask`: the mask the client leaves unset is filled with
    /// the fields its body names (grpc-gateway's rule for partial updates).
    public var updateMask: UpdateMaskFill?
}

/// Where the filled `update_mask` goes, and which message the body's field paths name.
public struct UpdateMaskFill: Sendable, Equatable {
    public var fieldNumber: Int32
    /// Its .proto and JSON names: a query parameter of either name is the client's own mask.
    public var fieldNames: [String]
    /// The body field's message type: its JSON keys become the mask's paths.
    public var resourceType: String
}

public struct RESTCatalog: Sendable {
    public let pool: DescriptorPool
    public let routes: RESTRouteTable<RESTBinding>
    /// The gRPC paths of the methods that stream either way (exempt from route timeouts).
    public let streamingMethodPaths: Set<String>
    /// The gRPC paths of the unary methods (whose reply an idempotent route may hold for a retry).
    public let unaryMethodPaths: Set<String>
    /// Every exposed method by its gRPC path (`/package.Service/Method`).
    public let methods: [String: RESTMethod]
    /// The exposed services' full names.
    public let serviceNames: Set<String>

    /// The rules of `services` in `pool`. Every method is also reached at
    /// `POST /package.Service/Method` with the whole message as its JSON body (a JSON array for
    /// client streaming), rules or not: the one address that `ferry call` needs to know.
    public init(pool: DescriptorPool, services: [String]) throws(DescriptorError) {
        self.pool = pool
        var routes = RESTRouteTable<RESTBinding>()
        var streaming = Set<String>()
        var unary = Set<String>()
        var methods: [String: RESTMethod] = [:]
        for serviceName in services {
            guard let service = pool.services[serviceName] else {
                let known = pool.services.keys.sorted().joined(separator: ", ")
                throw DescriptorError("service '\(serviceName)' is not in the descriptor set (services: \(known.isEmpty ? "none" : known))")
            }
            for method in service.method {
                let restMethod = RESTMethod(
                    fullName: "\(serviceName).\(method.name)", grpcPath: "/\(serviceName)/\(method.name)",
                    inputType: String(method.inputType.dropFirst()), outputType: String(method.outputType.dropFirst()),
                    clientStreaming: method.clientStreaming, serverStreaming: method.serverStreaming,
                    hasNoSideEffects: method.options.idempotencyLevel == .noSideEffects)
                methods[restMethod.grpcPath] = restMethod
                let byName = Google_Api_HttpRule.with {
                    $0.post = restMethod.grpcPath; $0.body = "*"
                }
                var rules =
                    method.options.hasGoogle_Api_http
                    ? [method.options.Google_Api_http] + method.options.Google_Api_http.additionalBindings
                    : []
                if !rules.contains(where: { $0.post == byName.post }) { rules.append(byName) }
                if restMethod.clientStreaming || restMethod.serverStreaming {
                    streaming.insert(restMethod.grpcPath)
                } else {
                    unary.insert(restMethod.grpcPath)
                }
                for rule in rules {
                    try RESTCatalog.add(rule, for: restMethod, pool: pool, to: &routes)
                }
            }
        }
        self.routes = routes
        streamingMethodPaths = streaming
        unaryMethodPaths = unary
        self.methods = methods
        serviceNames = Set(services)
    }

    private static func add(
        _ rule: Google_Api_HttpRule, for method: RESTMethod, pool: DescriptorPool,
        to routes: inout RESTRouteTable<RESTBinding>
    ) throws(DescriptorError) {
        let context = "method \(method.fullName)"
        let verb: String
        let path: String
        switch rule.pattern {
        case .get(let text)?: (verb, path) = ("GET", text)
        case .put(let text)?: (verb, path) = ("PUT", text)
        case .post(let text)?: (verb, path) = ("POST", text)
        case .delete(let text)?: (verb, path) = ("DELETE", text)
        case .patch(let text)?: (verb, path) = ("PATCH", text)
        case .custom(let custom)?: (verb, path) = (custom.kind, custom.path)
        case nil: throw DescriptorError("\(context): a google.api.http rule without a pattern")
        }
        let template: PathTemplate
        do {
            template = try PathTemplate(parsing: path)
        } catch {
            throw DescriptorError("\(context): \(error)")
        }
        do {
            for variable in template.variables { _ = try pool.fieldPath(variable.fieldPath, in: method.inputType) }
        } catch {
            throw DescriptorError("\(context): path variable \(error)")
        }
        let body: RESTBody
        var requestHTTPBody: HTTPBodyPlacement?
        switch rule.body {
        case "":
            body = .none
        case "*":
            body = .wholeMessage
            if method.inputType == HTTPBodyPlacement.typeName { requestHTTPBody = HTTPBodyPlacement(fieldNumbers: []) }
        case let field:
            let fieldPath = field.split(separator: ".").map(String.init)
            do {
                requestHTTPBody = try httpBodyPlacement(of: pool.fieldPath(fieldPath, in: method.inputType))
            } catch {
                throw DescriptorError("\(context): body \(error)")
            }
            body = .field(fieldPath)
        }
        var updateMask: UpdateMaskFill?
        if verb == "PATCH", case .field(let fieldPath) = body, requestHTTPBody == nil,
            let resource = try? pool.fieldPath(fieldPath, in: method.inputType).last, resource.type == .message,
            resource.label != .repeated,
            let mask = pool.message(named: method.inputType)?.field.first(where: {
                $0.name == "update_mask" && $0.type == .message && $0.label != .repeated && $0.typeName == ".google.protobuf.FieldMask"
            })
        {
            updateMask = UpdateMaskFill(
                fieldNumber: mask.number, fieldNames: [mask.name, mask.hasJsonName ? mask.jsonName : "updateMask"],
                resourceType: String(resource.typeName.dropFirst()))
        }
        var responseBody: [String]?
        var responseHTTPBody: HTTPBodyPlacement?
        if rule.responseBody.isEmpty {
            if method.outputType == HTTPBodyPlacement.typeName { responseHTTPBody = HTTPBodyPlacement(fieldNumbers: []) }
        } else {
            let fieldPath = rule.responseBody.split(separator: ".").map(String.init)
            do {
                responseHTTPBody = try httpBodyPlacement(of: pool.fieldPath(fieldPath, in: method.outputType))
            } catch {
                throw DescriptorError("\(context): response_body \(error)")
            }
            responseBody = fieldPath
        }
        do {
            try routes.add(
                verb: verb, template: template, owner: method.fullName,
                target: RESTBinding(
                    method: method, body: body, responseBody: responseBody,
                    requestHTTPBody: requestHTTPBody, responseHTTPBody: responseHTTPBody, updateMask: updateMask))
        } catch {
            throw DescriptorError(error.description)
        }
    }
}

/// The placement of a body field path that ends in a singular google.api.HttpBody, or nil.
private func httpBodyPlacement(of fields: [Google_Protobuf_FieldDescriptorProto]) -> HTTPBodyPlacement? {
    guard let last = fields.last, last.type == .message, last.label != .repeated,
        last.typeName.dropFirst() == HTTPBodyPlacement.typeName
    else { return nil }
    return HTTPBodyPlacement(fieldNumbers: fields.map(\.number))
}
