// A YAML document as a tree of scalars, mappings and sequences, composed from libyaml's event
// parser. This is all the config reader needs, without pulling Foundation into the binary (a
// Swift YAML library would, at ~11 MiB of resident memory).
import CYAML

/// One node of a YAML document.
indirect enum YAMLNode {
    /// A scalar's text; `plain` when unquoted, which is how `null`, `~` and empty values
    /// are told from the strings "null" and "" (YAML 1.2 core schema).
    case scalar(String, plain: Bool)
    case mapping([(key: String, value: YAMLNode)])
    case sequence([YAMLNode])

    var isNull: Bool {
        if case .scalar(let text, plain: true) = self {
            return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
        }
        return false
    }
}

/// Why a YAML text could not be read, with libyaml's position (1-based line and column).
struct YAMLError: Error, Equatable, CustomStringConvertible {
    var reason: String
    var line: Int
    var column: Int

    var description: String { "\(reason) at line \(line), column \(column)" }
}

enum YAMLComposer {
    /// The first document of `text`, or nil when it has none.
    static func compose(_ text: String) throws(YAMLError) -> YAMLNode? {
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw YAMLError(reason: "cannot create a YAML parser", line: 0, column: 0) }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(YAMLError) in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var composer = EventReader(parser: &parser)
            return try composer.document()
        }
    }
}

/// Reads events one at a time and builds nodes recursively. A config is small and shallow, so
/// hostile input is bounded: nesting (recursion) and the size of the tree with its aliases
/// expanded (the "billion laughs": anchors that alias each other double at every level).
private struct EventReader {
    static let maxDepth = 64
    static let maxExpandedNodes = 100_000

    var parser: UnsafeMutablePointer<yaml_parser_t>
    var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var depth = 0
    /// Nodes in the tree so far, an alias counting as the nodes it stands for.
    private var expandedNodes = 0

    init(parser: UnsafeMutablePointer<yaml_parser_t>) {
        self.parser = parser
    }

    mutating func document() throws(YAMLError) -> YAMLNode? {
        while true {
            var event = try next()
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_DOCUMENT_START_EVENT:
                var first = try next()
                defer { yaml_event_delete(&first) }
                return try node(from: &first)
            case YAML_STREAM_END_EVENT:
                return nil
            default:
                continue
            }
        }
    }

    private mutating func next() throws(YAMLError) -> yaml_event_t {
        var event = yaml_event_t()
        guard yaml_parser_parse(parser, &event) != 0 else {
            let problem = parser.pointee.problem.map { String(cString: $0) } ?? "invalid YAML"
            let mark = parser.pointee.problem_mark
            throw YAMLError(reason: problem, line: mark.line + 1, column: mark.column + 1)
        }
        return event
    }

    private mutating func node(from event: inout yaml_event_t) throws(YAMLError) -> YAMLNode {
        let node: YAMLNode
        let anchor: UnsafeMutablePointer<yaml_char_t>?
        let first = expandedNodes
        try count(1, at: event.start_mark)
        depth += 1
        defer { depth -= 1 }
        guard depth <= Self.maxDepth else { throw error("nested deeper than \(Self.maxDepth) levels", at: event.start_mark) }
        switch event.type {
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            anchor = scalar.anchor
            node = .scalar(
                String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self),
                plain: scalar.style == YAML_PLAIN_SCALAR_STYLE)
        case YAML_SEQUENCE_START_EVENT:
            anchor = event.data.sequence_start.anchor
            var elements: [YAMLNode] = []
            while true {
                var child = try next()
                defer { yaml_event_delete(&child) }
                if child.type == YAML_SEQUENCE_END_EVENT { break }
                elements.append(try self.node(from: &child))
            }
            node = .sequence(elements)
        case YAML_MAPPING_START_EVENT:
            anchor = event.data.mapping_start.anchor
            var entries: [(key: String, value: YAMLNode)] = []
            while true {
                var keyEvent = try next()
                defer { yaml_event_delete(&keyEvent) }
                if keyEvent.type == YAML_MAPPING_END_EVENT { break }
                guard case .scalar(let key, _) = try self.node(from: &keyEvent) else {
                    throw error("mapping keys must be scalars", at: keyEvent.start_mark)
                }
                if entries.contains(where: { $0.key == key }) {
                    throw error("duplicate key '\(key)'", at: keyEvent.start_mark)
                }
                var valueEvent = try next()
                defer { yaml_event_delete(&valueEvent) }
                entries.append((key, try self.node(from: &valueEvent)))
            }
            node = .mapping(entries)
        case YAML_ALIAS_EVENT:
            let name = String(cString: event.data.alias.anchor)
            guard let target = anchors[name] else { throw error("unknown alias '*\(name)'", at: event.start_mark) }
            try count(target.size - 1, at: event.start_mark)
            return target.node
        default:
            throw error("unexpected YAML event", at: event.start_mark)
        }
        if let anchor { anchors[String(cString: anchor)] = (node, expandedNodes - first) }
        return node
    }

    private mutating func count(_ nodes: Int, at mark: yaml_mark_t) throws(YAMLError) {
        expandedNodes += nodes
        guard expandedNodes <= Self.maxExpandedNodes else {
            throw error("more than \(Self.maxExpandedNodes) nodes with aliases expanded", at: mark)
        }
    }

    private func error(_ reason: String, at mark: yaml_mark_t) -> YAMLError {
        YAMLError(reason: reason, line: mark.line + 1, column: mark.column + 1)
    }
}
