// gRPC server reflection for the bundled NodeService (grpc.reflection.v1 and v1alpha), from the
// descriptor set it is built with, so that reflection clients (grpcurl, Ferry's own
// `rest.reflection`) work against the demo out of the box.
import FerryCore
import GRPCServer
import Reflection

enum NodeReflection {
    static func handlers() -> [String: GRPCMethodHandler] {
        // Generated from node.proto at build time (ReflectionCatalogTests reads it).
        guard let catalog = try? ReflectionCatalog(descriptorSet: Base64.decodeLenient(NodeDescriptorSet.base64) ?? []) else {
            return [:]
        }
        // ServerReflectionInfo: one response per request, in order; the call ends when the
        // client's requests do.
        let info = GRPCMethodHandler.bidiStreaming { _, stream in
            { request in
                guard let request else { return stream.finish() }
                stream.send(catalog.answer(request))
            }
        }
        return [
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": info,
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": info,
        ]
    }
}
