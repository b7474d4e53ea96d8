// JSON for /config and /clusters, written from the values themselves (Mirror): every field
// appears with its effective value, under its config-style snake_case name, so the output
// never falls behind the types. Durations (`…Nanoseconds`) print as "10s" or "1500ms"; fields that may
// hold secrets print as "[redacted]".
public enum AdminJSON {
    /// Field names (or parts of them) whose values are never shown.
    static let redactedFieldParts = ["privatekey", "password", "secret"]

    public static func encode(_ value: Any) -> String {
        var out = ""
        write(value, to: &out, indent: "")
        return out + "\n"
    }

    /// A struct's fields and then `extra` (state beside the config, say), as one object.
    public static func encode(_ value: Any, adding extra: [(String, Any)]) -> String {
        var out = ""
        writeObject(fields(of: Mirror(reflecting: value)) + extra, to: &out, indent: "")
        return out + "\n"
    }

    private static func write(_ value: Any, to out: inout String, indent: String) {
        switch value {
        case let text as String: out += quoted(text)
        case let flag as Bool: out += flag ? "true" : "false"
        case let number as any BinaryInteger: out += "\(number)"
        case let number as Double: out += number.isFinite ? "\(number)" : "null"
        case let described as CustomStringConvertible where Mirror(reflecting: value).displayStyle == nil:
            out += quoted(described.description)
        default: writeStructured(value, to: &out, indent: indent)
        }
    }

    private static func writeStructured(_ value: Any, to out: inout String, indent: String) {
        let mirror = Mirror(reflecting: value)
        let inner = indent + "  "
        switch mirror.displayStyle {
        case .optional:
            if let some = mirror.children.first { write(some.value, to: &out, indent: indent) } else { out += "null" }
        case .collection, .set:
            var items = mirror.children.map { child in
                var item = ""
                write(child.value, to: &item, indent: inner)
                return item
            }
            if mirror.displayStyle == .set { items.sort() }
            out += items.isEmpty ? "[]" : "[\n" + items.map { inner + $0 }.joined(separator: ",\n") + "\n\(indent)]"
        case .dictionary:
            let pairs = mirror.children.compactMap { child -> (String, Any)? in
                let pair = Array(Mirror(reflecting: child.value).children)
                guard pair.count == 2 else { return nil }
                return ("\(pair[0].value)", pair[1].value)
            }.sorted { $0.0 < $1.0 }
            writeObject(pairs, to: &out, indent: indent)
        case .enum:
            // A case with a payload: {"case": payload}; without one, its name.
            if let payload = mirror.children.first, let label = payload.label {
                writeObject([(label, payload.value)], to: &out, indent: indent)
            } else {
                out += quoted("\(value)")
            }
        case .tuple:
            writeObject(
                mirror.children.enumerated().map { ($0.element.label ?? "\($0.offset)", $0.element.value) }, to: &out, indent: indent)
        default:
            writeObject(fields(of: mirror), to: &out, indent: indent)
        }
    }

    /// A struct's or class's stored properties, superclass fields included, renamed.
    private static func fields(of mirror: Mirror) -> [(String, Any)] {
        var fields = mirror.superclassMirror.map(fields(of:)) ?? []
        for child in mirror.children {
            guard let label = child.label, !label.hasPrefix("_") else { continue }
            let lowered = label.lowercased()
            if redactedFieldParts.contains(where: lowered.contains) {
                fields.append((snakeCase(label), unwrap(child.value) == nil ? "null" as Any : "[redacted]"))
            } else if label.hasSuffix("Nanoseconds") {
                // An unset optional duration is null under the same name.
                let name = snakeCase(String(label.dropLast("Nanoseconds".count)))
                fields.append((name, (unwrap(child.value) as? UInt64).map(duration) as Any))
            } else {
                fields.append((snakeCase(label), child.value))
            }
        }
        return fields
    }

    private static func writeObject(_ pairs: [(String, Any)], to out: inout String, indent: String) {
        guard !pairs.isEmpty else {
            out += "{}"
            return
        }
        let inner = indent + "  "
        out += "{\n"
        for (index, pair) in pairs.enumerated() {
            out += inner + quoted(pair.0) + ": "
            write(pair.1, to: &out, indent: inner)
            out += index == pairs.count - 1 ? "\n" : ",\n"
        }
        out += indent + "}"
    }

    /// The value inside an Optional, nil for none; other values as they are.
    private static func unwrap(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        guard mirror.displayStyle == .optional else { return value }
        return mirror.children.first.map { unwrap($0.value) } ?? nil
    }

    /// `maxPendingRequests` → `max_pending_requests`.
    static func snakeCase(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase {
                if !out.isEmpty { out.append("_") }
                out += character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }

    /// Whole seconds as `10s`, others as `1.5s` or `300ms`.
    static func duration(_ nanoseconds: UInt64) -> String {
        if nanoseconds % 1_000_000_000 == 0 { return "\(nanoseconds / 1_000_000_000)s" }
        if nanoseconds % 1_000_000 == 0 { return "\(nanoseconds / 1_000_000)ms" }
        return "\(Double(nanoseconds) / 1e9)s"
    }

    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
