// Why descriptors could not be had from a backend's server reflection, or served from a set.

public struct ReflectionError: Error, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
