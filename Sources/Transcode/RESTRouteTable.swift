// Finds the method a REST request calls: the google.api.http rules of every exposed method,
// matched by HTTP method and path template. An unknown path is 404, a known path with another
// HTTP method is 405 (with the methods it does accept), as grpc-gateway and Envoy answer.

/// Two rules that would take the same requests: a startup error naming both methods.
public struct RESTRouteConflict: Error, Equatable, CustomStringConvertible {
    public var verb: String
    public var template: String
    public var first: String
    public var second: String

    public var description: String {
        "\(verb) \(template) is bound twice: by \(first) and by \(second)"
    }
}

public struct RESTRouteTable<Target: Sendable>: Sendable {
    public struct Rule: Sendable {
        /// GET, PUT, POST, DELETE, PATCH, or a custom rule's kind.
        public var verb: String
        public var template: PathTemplate
        /// Who the rule belongs to, for error messages (a method's full name).
        public var owner: String
        public var target: Target
    }

    public enum Lookup {
        case matched(Target, bindings: [PathBinding])
        /// The path matches rules of these HTTP methods only.
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    public private(set) var rules: [Rule] = []

    public init() {}

    /// Adds a rule; throws when an earlier rule has the same verb and template shape.
    public mutating func add(verb: String, template: PathTemplate, owner: String, target: Target) throws(RESTRouteConflict) {
        if let existing = rules.first(where: { $0.verb == verb && $0.template.hasSameShape(as: template) }) {
            throw RESTRouteConflict(verb: verb, template: template.description, first: existing.owner, second: owner)
        }
        rules.append(Rule(verb: verb, template: template, owner: owner, target: target))
    }

    /// The most specific rule of `verb` whose template matches `path`.
    public func lookup(verb: String, path: RequestPath) -> Lookup {
        var best: (rule: Rule, bindings: [PathBinding])?
        var otherVerbs: [String] = []
        for rule in rules {
            guard let bindings = rule.template.match(path) else { continue }
            guard rule.verb == verb else {
                if !otherVerbs.contains(rule.verb) { otherVerbs.append(rule.verb) }
                continue
            }
            if best.map({ rule.template.isMoreSpecific(than: $0.rule.template) }) ?? true {
                best = (rule, bindings)
            }
        }
        if let best { return .matched(best.rule.target, bindings: best.bindings) }
        return otherVerbs.isEmpty ? .notFound : .methodNotAllowed(allowed: otherVerbs)
    }
}
