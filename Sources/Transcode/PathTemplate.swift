// Path templates of google.api.http rules (googleapis google/api/http.proto, "Path template
// syntax"):
//
//     Template = "/" Segments [ Verb ] ;
//     Segments = Segment { "/" Segment } ;
//     Segment  = "*" | "**" | LITERAL | Variable ;
//     Variable = "{" FieldPath [ "=" Segments ] "}" ;
//     FieldPath = IDENT { "." IDENT } ;
//     Verb     = ":" LITERAL ;
//
// `**` matches zero or more segments and must be the last segment; `{x}` means `{x=*}`.

/// Why a template was refused, with the offset of the offending character.
public struct PathTemplateError: Error, Equatable, CustomStringConvertible {
    public var template: String
    public var offset: Int
    public var reason: String

    public var description: String { "invalid path template '\(template)' at offset \(offset): \(reason)" }
}

/// A parsed path template, flattened: variables are ranges over the segment list.
public struct PathTemplate: Sendable, Equatable, CustomStringConvertible {
    public enum Segment: Sendable, Equatable {
        case literal(String)
        /// `*`: exactly one segment.
        case single
        /// `**`: zero or more segments (only last).
        case multi
    }

    /// A variable: the request field it sets and the segments it covers.
    public struct Variable: Sendable, Equatable {
        public var fieldPath: [String]
        public var segments: Range<Int>
    }

    public let segments: [Segment]
    public let variables: [Variable]
    /// The custom verb after the last segment (`:cancel`), if any.
    public let verb: String?
    public let description: String

    public init(parsing text: String) throws(PathTemplateError) {
        var parser = TemplateParser(text: text)
        (segments, variables, verb) = try parser.parse()
        description = text
    }

    /// Whether two templates match exactly the same paths (variable names aside): two rules
    /// with the same verb and shape are ambiguous.
    public func hasSameShape(as other: PathTemplate) -> Bool {
        segments == other.segments && verb == other.verb
    }

    /// Orders overlapping templates: at the first segment where they differ a literal beats
    /// `*`, which beats `**`; then more segments, then a verb, win.
    public func isMoreSpecific(than other: PathTemplate) -> Bool {
        for (mine, theirs) in zip(segments, other.segments) where mine.rank != theirs.rank {
            return mine.rank < theirs.rank
        }
        if segments.count != other.segments.count { return segments.count > other.segments.count }
        return verb != nil && other.verb == nil
    }

    /// The variables' values when `path` matches, or nil.
    public func match(_ path: RequestPath) -> [PathBinding]? {
        var pathSegments = path.segments[...]
        if let verb {
            // Decoded, as literal segments are compared (found by fuzzing: `:e%29ho` is `:e)ho`).
            guard let last = pathSegments.last, let suffix = last.verbSuffix,
                RequestPath.Segment(raw: suffix).decoded(keepingSlashes: false) == verb
            else { return nil }
            pathSegments[pathSegments.endIndex - 1] = last.droppingVerb()
        }
        let hasMulti = segments.last == .multi
        let fixed = hasMulti ? segments.count - 1 : segments.count
        guard hasMulti ? pathSegments.count >= fixed : pathSegments.count == fixed else { return nil }
        for (index, segment) in segments.prefix(fixed).enumerated() {
            let actual = pathSegments[pathSegments.startIndex + index]
            switch segment {
            case .literal(let literal):
                guard actual.decoded(keepingSlashes: false) == literal else { return nil }
            case .single:
                guard !actual.raw.isEmpty else { return nil }
            case .multi:
                return nil  // only last, by construction
            }
        }
        return variables.map { variable in
            let end =
                variable.segments.upperBound == segments.count && hasMulti
                ? pathSegments.count : variable.segments.upperBound
            let covered = pathSegments[(pathSegments.startIndex + variable.segments.lowerBound)..<(pathSegments.startIndex + end)]
            // One segment: fully decoded. Several: `%2F` stays encoded, so that the value's
            // slashes can be told from the ones inside a segment (http.proto, "Path template syntax").
            let multiSegment = variable.segments.count > 1 || segments[variable.segments.lowerBound] == .multi
            let value = covered.map { $0.decoded(keepingSlashes: multiSegment) }.joined(separator: "/")
            return PathBinding(fieldPath: variable.fieldPath, value: value)
        }
    }
}

/// A request field set from the path: `fieldPath` (e.g. `["shelf", "name"]`) and its text.
public struct PathBinding: Sendable, Equatable {
    public var fieldPath: [String]
    public var value: String
}

extension PathTemplate.Segment {
    fileprivate var rank: Int {
        switch self {
        case .literal: 0
        case .single: 1
        case .multi: 2
        }
    }
}

private struct TemplateParser {
    let text: String
    let bytes: [UInt8]
    var index = 0
    var segments: [PathTemplate.Segment] = []
    var variables: [PathTemplate.Variable] = []

    init(text: String) {
        self.text = text
        bytes = Array(text.utf8)
    }

    mutating func parse() throws(PathTemplateError) -> ([PathTemplate.Segment], [PathTemplate.Variable], String?) {
        guard peek == UInt8(ascii: "/") else { throw error("a template starts with '/'") }
        index += 1
        try parseSegments(insideVariable: false)
        var verb: String?
        if peek == UInt8(ascii: ":") {
            index += 1
            let start = index
            let literal = takeLiteral()
            guard !literal.isEmpty else { throw PathTemplateError(template: text, offset: start, reason: "empty verb") }
            verb = literal
        }
        guard index == bytes.count else { throw error("unexpected '\(Character(UnicodeScalar(bytes[index])))'") }
        if let multi = segments.firstIndex(of: .multi), multi != segments.count - 1 {
            throw PathTemplateError(template: text, offset: 0, reason: "'**' must be the last segment")
        }
        return (segments, variables, verb)
    }

    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func error(_ reason: String) -> PathTemplateError {
        PathTemplateError(template: text, offset: index, reason: reason)
    }

    private mutating func parseSegments(insideVariable: Bool) throws(PathTemplateError) {
        while true {
            try parseSegment(insideVariable: insideVariable)
            guard peek == UInt8(ascii: "/") else { return }
            index += 1
        }
    }

    private mutating func parseSegment(insideVariable: Bool) throws(PathTemplateError) {
        switch peek {
        case UInt8(ascii: "*"):
            index += 1
            if peek == UInt8(ascii: "*") {
                index += 1
                segments.append(.multi)
            } else {
                segments.append(.single)
            }
        case UInt8(ascii: "{"):
            guard !insideVariable else { throw error("variables cannot nest") }
            index += 1
            let fieldPath = try parseFieldPath()
            let start = segments.count
            if peek == UInt8(ascii: "=") {
                index += 1
                try parseSegments(insideVariable: true)
            } else {
                segments.append(.single)
            }
            guard peek == UInt8(ascii: "}") else { throw error("expected '}'") }
            index += 1
            variables.append(PathTemplate.Variable(fieldPath: fieldPath, segments: start..<segments.count))
        default:
            let literal = takeLiteral()
            guard !literal.isEmpty else { throw error("expected a segment") }
            segments.append(.literal(literal))
        }
    }

    private mutating func parseFieldPath() throws(PathTemplateError) -> [String] {
        var path: [String] = []
        repeat {
            if !path.isEmpty { index += 1 }  // the '.'
            let start = index
            while let byte = peek, isIdentifierByte(byte, first: index == start) { index += 1 }
            guard index > start else { throw error("expected a field name") }
            path.append(String(decoding: bytes[start..<index], as: UTF8.self))
        } while peek == UInt8(ascii: ".")
        return path
    }

    /// Unreserved characters, percent-encodings and sub-delimiters (RFC 3986 §3.3), except the
    /// characters the grammar uses.
    private mutating func takeLiteral() -> String {
        let start = index
        while let byte = peek, isLiteralByte(byte) { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }
}

private func isIdentifierByte(_ byte: UInt8, first: Bool) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"): true
    case UInt8(ascii: "0")...UInt8(ascii: "9"): !first
    default: false
    }
}

private func isLiteralByte(_ byte: UInt8) -> Bool {
    switch byte {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
        UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    default:
        return "-._~%!$&'()+,;@".utf8.contains(byte)
    }
}
