// What every exchange checks in the backend's answer before translating it: a head that is not a
// gRPC response (a proxy's error page, an HTTP error) and trailers without a status are turned
// into gRPC statuses (grpc/doc/http-grpc-status-mapping.md, PROTOCOL-HTTP2.md).
import FerryCore

enum UpstreamResponseCheck {
    /// The status a response head stands for when it is not gRPC; nil when it is.
    static func head(_ headers: HeaderFields) -> GRPCStatus? {
        if !headers.firstValue(of: ":status", is: "200") {
            let status = headers[":status"].flatMap { Int($0) } ?? 0
            return GRPCStatus(GRPCStatusCode(httpStatus: status), "upstream answered HTTP status \(status)")
        }
        if headers.firstIndex(of: "grpc-status") == nil
            && !headers.firstValue(of: "content-type", hasPrefix: "application/grpc")
        {
            return GRPCStatus(.unknown, "upstream answered content-type '\(headers["content-type"] ?? "")', not gRPC")
        }
        return nil
    }

    /// The trailers that end a call, as its client should see them. `headReceived`: false for a
    /// trailers-only response, whose block is also the response head; one that is not gRPC
    /// becomes its status. Trailers without `grpc-status` keep their metadata and are INTERNAL.
    static func trailers(_ trailers: HeaderFields, headReceived: Bool) -> HeaderFields {
        if !headReceived, let failure = head(trailers) { return failure.trailerFields }
        guard trailers.firstIndex(of: "grpc-status") == nil else { return trailers }
        var checked = trailers
        checked.append(contentsOf: GRPCStatus(.internal, "upstream response had no grpc-status").trailerFields)
        return checked
    }
}
