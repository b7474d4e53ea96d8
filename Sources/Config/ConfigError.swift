// A configuration error: where (key path) and why.

public struct ConfigError: Error, Equatable, CustomStringConvertible {
    /// The key path, e.g. `listeners[0].cors.allow_origins`; empty for the whole document.
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String {
        path.isEmpty ? reason : "\(path): \(reason)"
    }
}

/// Every error a config has (`ConfigLoader.load` goes on past each), in document order of
/// discovery; never empty.
public struct ConfigErrors: Error, Equatable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One error on one line; several, one per line after their count.
    public var description: String {
        errors.count == 1 ? errors[0].description : "\(errors.count) errors:\n" + errors.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// The errors found so far: loading goes on past each one. One error per key path is kept (a
/// value whose `${VARIABLE}` failed is not reported again as a malformed value).
struct ConfigErrorList {
    var errors: [ConfigError] = []

    mutating func append(_ error: ConfigError) {
        if !errors.contains(where: { $0.path == error.path }) { errors.append(error) }
    }

    /// `read`'s value, or nil with its error kept.
    @discardableResult
    mutating func collect<Value>(_ read: () throws(ConfigError) -> Value) -> Value? {
        do {
            return try read()
        } catch {
            append(error)
            return nil
        }
    }
}
