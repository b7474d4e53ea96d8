// `${NAME}` and `${NAME:-default}` in the config's scalar values, read from the environment, so
// that one file serves every pod of a Deployment (each with its own POD_IP, secrets path, …).
// The forms are the shell's (and Docker Compose's): `:-` gives the default when the variable
// is unset or empty; `$$` writes a literal `$`. Keys are never substituted.

enum EnvironmentSubstitution {
    /// Expands every scalar value of `node`; `path` is its key path, for the errors. Each
    /// unset variable without a default, and each malformed reference, is an error of its own.
    static func expand(_ node: YAMLNode, path: String, environment: [String: String], errors: inout [ConfigError]) -> YAMLNode {
        switch node {
        case .scalar(let text, let plain):
            guard text.utf8.contains(UInt8(ascii: "$")) else { return node }
            do throws(ConfigError) {
                // An expanded value is a value, never YAML's null: `${EMPTY}` reads as "".
                let expanded = try expand(text, path: path, environment: environment)
                return .scalar(expanded, plain: plain && expanded == text)
            } catch {
                errors.append(error)
                return node
            }
        case .mapping(let entries):
            return .mapping(
                entries.map { entry in
                    let childPath = path.isEmpty ? entry.key : "\(path).\(entry.key)"
                    return (key: entry.key, value: expand(entry.value, path: childPath, environment: environment, errors: &errors))
                })
        case .sequence(let elements):
            return .sequence(
                elements.enumerated().map { index, element in
                    expand(element, path: "\(path)[\(index)]", environment: environment, errors: &errors)
                })
        }
    }

    /// `text` with its references replaced.
    static func expand(_ text: String, path: String, environment: [String: String]) throws(ConfigError) -> String {
        var result = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            result += rest[..<dollar]
            let afterDollar = rest.index(after: dollar)
            if afterDollar < rest.endIndex, rest[afterDollar] == "$" {
                result += "$"
                rest = rest[rest.index(after: afterDollar)...]
                continue
            }
            guard afterDollar < rest.endIndex, rest[afterDollar] == "{" else {
                // A lone `$` (a password, a regex) stays as it is.
                result += "$"
                rest = rest[afterDollar...]
                continue
            }
            let bodyStart = rest.index(after: afterDollar)
            guard let close = rest[bodyStart...].firstIndex(of: "}") else {
                throw ConfigError(path: path, reason: "'${' without its closing '}' (write '$$' for a literal '$')")
            }
            let body = rest[bodyStart..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.firstRange(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            if let fallback, fallback.contains("${") {
                throw ConfigError(path: path, reason: "'${\(body)}}': a default cannot hold another ${…}")
            }
            guard isVariableName(name) else {
                throw ConfigError(
                    path: path, reason: "'${\(body)}' does not name an environment variable (letters, digits, '_'; not first a digit)")
            }
            if let value = environment[String(name)], !(fallback != nil && value.isEmpty) {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                throw ConfigError(
                    path: path, reason: "environment variable \(name) is not set (set it, or give a default: ${\(name):-value})")
            }
            rest = rest[rest.index(after: close)...]
        }
        result += rest
        return result
    }

    private static func isVariableName(_ name: Substring) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first) else { return false }
        return name.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == UInt8(ascii: "_")
        }
    }
}
