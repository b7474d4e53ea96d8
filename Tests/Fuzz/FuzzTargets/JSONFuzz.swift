// The proto3 JSON mapping both ways on arbitrary input, against ferry.test.v1.Rich (every scalar,
// repeated, map, oneof and well-known type). The printer's output is canonical: whatever it
// prints must read back and print the same again.
import Transcode

extension FuzzHarness {
    /// Arbitrary bytes as a JSON request body.
    func fuzzJSONParser(_ data: UnsafeRawBufferPointer) {
        let transcoder = richTranscoder
        let ignoreUnknown = data.first.map { $0 & 1 == 1 } ?? false
        guard
            let binary = try? transcoder.binary(
                fromJSON: data, messageType: Self.richType,
                options: JSONParseOptions(ignoreUnknownFields: ignoreUnknown))
        else { return }
        // What was accepted prints (a value outside JSON's range may refuse), and that prints stably.
        guard let printed = print(binary, transcoder) else { return }
        checkCanonical(printed, transcoder)
    }

    /// Arbitrary bytes as a backend's reply in wire format.
    func fuzzJSONPrinter(_ data: UnsafeRawBufferPointer) {
        let transcoder = richTranscoder
        guard let printed = try? transcoder.json(fromBinary: data, messageType: Self.richType) else { return }
        checkCanonical(printed, transcoder)
    }

    private func print(_ binary: [UInt8], _ transcoder: ProtoJSONTranscoder) -> [UInt8]? {
        try? binary.withUnsafeBytes { try transcoder.json(fromBinary: $0, messageType: Self.richType) }
    }

    /// JSON the printer wrote reads back, and prints the same bytes again.
    private func checkCanonical(_ printed: [UInt8], _ transcoder: ProtoJSONTranscoder) {
        let text = String(decoding: printed, as: UTF8.self)
        let reread: [UInt8]
        do {
            reread = try printed.withUnsafeBytes { try transcoder.binary(fromJSON: $0, messageType: Self.richType) }
        } catch {
            return agree(false, "printed JSON does not read back (\(error)): \(text)")
        }
        let reprinted = print(reread, transcoder)
        let retext = reprinted.map { String(decoding: $0, as: UTF8.self) } ?? "(refused)"
        // One loss is by design: a NullValue field holding a number other than 0 prints as null
        // (as json_format and protojson print it), which reads back as 0 and is then left out.
        agree(
            reprinted == printed || withoutNullMembers(text) == withoutNullMembers(retext),
            "JSON printed, read and printed again differs:\n \(text)\n \(retext)")
    }

    /// The JSON text without its `"name":null` object members.
    private func withoutNullMembers(_ text: String) -> String {
        text.replacing(/,?"[A-Za-z0-9_]*":null/, with: "")
    }
}
