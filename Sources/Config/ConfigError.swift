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
