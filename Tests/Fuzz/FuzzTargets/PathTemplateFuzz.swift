// google.api.http path templates and request paths on arbitrary text: the first line is a
// template, the second a request path. A template that parses must match a path built from it
// (its literals percent-encoded, a value for each wildcard).
import Transcode

extension FuzzHarness {
    func fuzzPathTemplate(_ data: UnsafeRawBufferPointer) {
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let template = try? PathTemplate(parsing: String(lines[0]))
        if lines.count > 1, let path = try? RequestPath(parsing: lines[1]) {
            _ = template?.match(path)
        }
        guard let template else { return }
        let built = path(matching: template)
        guard let request = try? RequestPath(parsing: built[...]) else {
            return agree(false, "the path \(built) built from template \(template.description) does not parse")
        }
        agree(template.match(request) != nil, "template \(template.description) does not match \(built)")
    }

    private func path(matching template: PathTemplate) -> String {
        var path = ""
        for segment in template.segments {
            switch segment {
            case .literal(let literal): path += "/" + percentEncoded(literal)
            case .single: path += "/v"
            case .multi: path += "/m1/m2"
            }
        }
        if let verb = template.verb { path += ":" + percentEncoded(verb) }
        return path.isEmpty ? "/" : path
    }

    /// Every byte but RFC 3986's unreserved characters encoded.
    private func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
