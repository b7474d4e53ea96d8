// grpc.health.v1.Health (grpc/grpc doc/health-checking.md) for the services a GRPCServer
// serves: each registered service, the health service itself and the server as a whole ("")
// are SERVING; another name is NOT_FOUND for Check, and SERVICE_UNKNOWN for Watch, whose call
// then stays open as the protocol asks.
import FerryCore
import Transcode

struct GRPCHealth {
    /// HealthCheckResponse.ServingStatus.
    enum ServingStatus: UInt8 {
        case serving = 1
        case serviceUnknown = 3
    }

    static let serviceName = "grpc.health.v1.Health"
    private let services: Set<String>

    /// `servedPaths`: the server's methods, `/package.Service/Method`.
    init(servedPaths: some Sequence<String>) {
        var services: Set<String> = ["", Self.serviceName]
        for path in servedPaths {
            let parts = path.split(separator: "/")
            if parts.count == 2 { services.insert(String(parts[0])) }
        }
        self.services = services
    }

    var handlers: [String: GRPCMethodHandler] {
        [
            "/\(Self.serviceName)/Check": .unary { request, _ throws(GRPCStatus) in
                let service = try Self.service(in: request)
                guard services.contains(service) else { throw GRPCStatus(.notFound, "unknown service \(service)") }
                return GRPCReply(message: Self.response(.serving))
            },
            "/\(Self.serviceName)/Watch": .serverStreaming { request, _, stream in
                do throws(GRPCStatus) {
                    let service = try Self.service(in: request)
                    // The status never changes while this server runs: one message, then the
                    // call stays open until the client ends it.
                    stream.send(Self.response(services.contains(service) ? .serving : .serviceUnknown))
                } catch {
                    stream.finish(error)
                }
            },
        ]
    }

    /// HealthCheckRequest { string service = 1 }.
    private static func service(in request: [UInt8]) throws(GRPCStatus) -> String {
        do throws(WireFormatError) {
            return try withTypedUnsafeBytes(request) { bytes throws(WireFormatError) in
                var reader = WireReader(bytes, range: 0..<bytes.count)
                var service = ""
                while let (number, range) = try reader.nextLengthDelimited() {
                    if number == 1 { service = String(decoding: bytes[range], as: UTF8.self) }
                }
                return service
            }
        } catch {
            throw GRPCStatus(.invalidArgument, "HealthCheckRequest: \(error)")
        }
    }

    /// HealthCheckResponse { ServingStatus status = 1 }.
    private static func response(_ status: ServingStatus) -> [UInt8] {
        [0x08, status.rawValue]
    }
}
