// The Prometheus text exposition format (version 0.0.4): `# HELP` and `# TYPE` once per
// family, then one `name{labels} value` line per sample, label values escaped. A family's
// lines form one group (the format requires it), whatever order the samples come in.
public struct PrometheusExposition {
    public enum MetricType: String {
        case counter, gauge, histogram
    }

    private var families: [(name: String, text: String)] = []
    private var familyIndex: [String: Int] = [:]

    public init() {}

    /// Declares a family; each name is declared once (later calls add nothing).
    public mutating func family(_ name: String, _ type: MetricType, help: String) {
        guard familyIndex[name] == nil else { return }
        familyIndex[name] = families.count
        families.append((name, "# HELP \(name) \(help)\n# TYPE \(name) \(type.rawValue)\n"))
    }

    /// Every family with its samples.
    public var text: String { families.map(\.text).joined() }

    /// Adds `line` to the family `name` (declared first).
    private mutating func append(_ line: String, to name: String) {
        guard let index = familyIndex[name] else { preconditionFailure("metric family \(name) used before it was declared") }
        families[index].text += line
    }

    public mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: Double) {
        var line = name
        if !labels.isEmpty {
            line += "{" + labels.map { "\($0.key)=\"\(PrometheusExposition.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        append(line + " " + PrometheusExposition.format(value) + "\n", to: name)
    }

    public mutating func sample(_ name: String, _ labels: KeyValuePairs<String, String>, _ value: some BinaryInteger) {
        sample(name, labels, Double(value))
    }

    /// A histogram's `_bucket` (cumulative, with `le`), `_sum` and `_count` samples.
    public mutating func histogram(_ name: String, _ labels: [(String, String)], bounds: [Double], buckets: [UInt64], sum: Double) {
        var cumulative: UInt64 = 0
        var lines = ""
        let prefix = labels.map { "\($0.0)=\"\(PrometheusExposition.escape($0.1))\"," }.joined()
        for (index, count) in buckets.enumerated() {
            cumulative += count
            let bound = index < bounds.count ? PrometheusExposition.format(bounds[index]) : "+Inf"
            lines += "\(name)_bucket{\(prefix)le=\"\(bound)\"} \(cumulative)\n"
        }
        let plain = labels.isEmpty ? "" : "{" + String(prefix.dropLast()) + "}"
        lines += "\(name)_sum\(plain) \(PrometheusExposition.format(sum))\n\(name)_count\(plain) \(cumulative)\n"
        append(lines, to: name)
    }

    /// Backslash, double quote and line feed escaped, as the format requires.
    static func escape(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// Integers without a fraction; others in Swift's shortest round-trip form.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
