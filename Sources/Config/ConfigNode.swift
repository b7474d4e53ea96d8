// A typed, path-tracking reader over a YAML tree: every value read knows its key path, and
// keys nobody read are reported as unknown.
struct ConfigNode {
    let node: YAMLNode?
    let path: String

    init(node: YAMLNode?, path: String) {
        self.node = node
        self.path = path
    }

    func error(_ reason: String) -> ConfigError {
        ConfigError(path: path, reason: reason)
    }

    var isPresent: Bool {
        guard let node else { return false }
        return !node.isNull
    }

    /// The child at `key` of a mapping (absent children read as nil).
    func child(_ key: String) -> ConfigNode {
        let childPath = path.isEmpty ? key : "\(path).\(key)"
        guard case .mapping(let mapping)? = node else { return ConfigNode(node: nil, path: childPath) }
        let value = mapping.first { $0.key == key }?.value
        return ConfigNode(node: value, path: childPath)
    }

    /// The entries of a mapping, each child with its key path; none when absent.
    func entries() throws(ConfigError) -> [(key: String, node: ConfigNode)] {
        guard isPresent else { return [] }
        guard case .mapping(let mapping)? = node else { throw error("expected a mapping") }
        return mapping.map { (key: $0.key, node: child($0.key)) }
    }

    /// Checks that a mapping has only `keys`.
    func requireMapping(keys: Set<String>) throws(ConfigError) {
        guard isPresent else { return }
        guard case .mapping(let mapping)? = node else { throw error("expected a mapping") }
        for (name, _) in mapping {
            if !keys.contains(name) {
                let childPath = path.isEmpty ? name : "\(path).\(name)"
                throw ConfigError(path: childPath, reason: "unknown key (known keys: \(keys.sorted().joined(separator: ", ")))")
            }
        }
    }

    func elements() throws(ConfigError) -> [ConfigNode] {
        guard isPresent else { return [] }
        guard case .sequence(let sequence)? = node else { throw error("expected a list") }
        return sequence.enumerated().map { ConfigNode(node: $0.element, path: "\(path)[\($0.offset)]") }
    }

    func string() throws(ConfigError) -> String? {
        guard isPresent else { return nil }
        guard case .scalar(let text, _)? = node else { throw error("expected a string") }
        return text
    }

    func requiredString() throws(ConfigError) -> String {
        guard let value = try string(), !value.isEmpty else { throw error("required") }
        return value
    }

    func int(range: ClosedRange<Int>) throws(ConfigError) -> Int? {
        guard let text = try string() else { return nil }
        guard let value = Int(text) else { throw error("expected a whole number, got '\(text)'") }
        guard range.contains(value) else {
            throw error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    func bool() throws(ConfigError) -> Bool? {
        guard let text = try string() else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false, got '\(text)'")
        }
    }

    /// A duration such as `500ms`, `10s`, `2m`, `1h`, in nanoseconds.
    func duration() throws(ConfigError) -> UInt64? {
        guard let text = try string() else { return nil }
        let units: [(String, UInt64)] = [
            ("ms", 1_000_000), ("us", 1_000), ("s", 1_000_000_000),
            ("m", 60_000_000_000), ("h", 3_600_000_000_000),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let amount = UInt64(text.dropLast(suffix.count)), amount <= 86_400_000_000 {
                return amount * scale
            }
        }
        throw error("expected a duration like 500ms, 10s, 2m or 1h, got '\(text)'")
    }

    func stringList() throws(ConfigError) -> [String]? {
        guard isPresent else { return nil }
        return try elements().map { node throws(ConfigError) in try node.requiredString() }
    }
}
