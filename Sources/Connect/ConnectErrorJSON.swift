// The JSON that carries a Connect call's outcome (connectrpc.com/docs/protocol, "Error and
// EndStreamResponse"): a unary error's body, and the end-stream message that closes every
// response stream.
import FerryCore
import Transcode

public struct ConnectErrorJSON {
    /// Prints the `debug` form of details whose type is in the descriptor set; nil: none.
    let transcoder: ProtoJSONTranscoder?

    public init(transcoder: ProtoJSONTranscoder?) {
        self.transcoder = transcoder
    }

    /// `{"code":"not_found","message":"…","details":[…]}`. `details`: the binary google.rpc.Status
    /// of `grpc-status-details-bin`, whose details each become `{"type","value","debug"}`: the
    /// message name, its bytes as unpadded base64, and its JSON when the descriptor set knows
    /// the type (for people reading the wire; clients use `value`).
    public func error(_ status: GRPCStatus, details: [UInt8]? = nil) -> [UInt8] {
        var out = Array("{\"code\":\"\(status.code.connectName)\"".utf8)
        if !status.message.isEmpty {
            out += Array(",\"message\":".utf8) + Array(jsonString(status.message).utf8)
        }
        let anys = details.map { bytes in bytes.withUnsafeBytes { ProtoJSONTranscoder.statusDetails($0) } } ?? []
        if !anys.isEmpty {
            out += Array(",\"details\":[".utf8)
            for (position, any) in anys.enumerated() {
                if position > 0 { out.append(UInt8(ascii: ",")) }
                out += Array("{\"type\":".utf8) + Array(jsonString(String(any.typeName)).utf8)
                out += Array(",\"value\":\"".utf8) + Self.unpaddedBase64(any.value) + [UInt8(ascii: "\"")]
                if let transcoder,
                    let debug = try? any.value.withUnsafeBytes({ bytes throws(JSONPrintError) in
                        try transcoder.json(fromBinary: bytes, messageType: String(any.typeName))
                    })
                {
                    out += Array(",\"debug\":".utf8) + debug
                }
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// The end-stream message: `{"error":{…},"metadata":{"name":["value",…]}}`, without
    /// `error` when `status` is OK and without `metadata` when there is none.
    public func endStream(_ status: GRPCStatus, details: [UInt8]? = nil, metadata: HeaderFields) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        if status.code != .ok {
            out += Array("\"error\":".utf8) + error(status, details: details)
        }
        if metadata.count > 0 {
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out += Array("\"metadata\":".utf8) + Self.metadataObject(metadata)
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Metadata as an object of arrays, a name's values in order (keys lowercase, as HTTP
    /// field names compare).
    static func metadataObject(_ metadata: HeaderFields) -> [UInt8] {
        var names: [String] = []
        var values: [String: [String]] = [:]
        for index in 0..<metadata.count {
            let field = metadata[index]
            let name = field.name.lowercased()
            if values[name] == nil { names.append(name) }
            values[name, default: []].append(field.value)
        }
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (position, name) in names.enumerated() {
            if position > 0 { out.append(UInt8(ascii: ",")) }
            out += Array(jsonString(name).utf8) + [UInt8(ascii: ":"), UInt8(ascii: "[")]
            out += Array(values[name, default: []].map(jsonString).joined(separator: ",").utf8)
            out.append(UInt8(ascii: "]"))
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Base64 without its `=` padding, as Connect writes binary values.
    static func unpaddedBase64(_ bytes: [UInt8]) -> [UInt8] {
        var encoded = Base64.encode(bytes)
        while encoded.last == UInt8(ascii: "=") { encoded.removeLast() }
        return encoded
    }
}
