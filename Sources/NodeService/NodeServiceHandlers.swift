// NodeService's behaviour, shared by the `node-service` executable and `ferry demo`.
// Conventions that tests and demos rely on: an empty node_id is INVALID_ARGUMENT, an id
// starting with "missing" is NOT_FOUND, and GetNode echoes `echo_payload` into `payload`.
import FerryCore
import FoundationEssentials
import GRPCServer
import NodeProto
import SwiftProtobuf

public enum NodeServiceHandlers {
    public static let serviceName = "node.v1.NodeService"

    /// NodeService's methods and server reflection (the server adds grpc.health.v1).
    public static func all() -> [String: GRPCMethodHandler] {
        nodeService.merging(NodeReflection.handlers()) { first, _ in first }
    }

    private static var nodeService: [String: GRPCMethodHandler] {
        [
            "/\(serviceName)/GetNode": .unary { request, _ throws(GRPCStatus) in
                let message: Node_V1_GetNodeRequest = try decode(request)
                return GRPCReply(message: try encode(try getNode(message)))
            },
            "/\(serviceName)/StreamMetrics": .clientStreaming { requests, _ throws(GRPCStatus) in
                var summary = Node_V1_MetricsSummary()
                for request in requests {
                    let metric: Node_V1_Metric = try decode(request)
                    summary.count += 1
                    summary.sum += metric.value
                }
                return GRPCReply(message: try encode(summary))
            },
            "/\(serviceName)/WatchNodes": .serverStreaming { request, _, stream in
                do throws(GRPCStatus) {
                    let message: Node_V1_WatchNodesRequest = try decode(request)
                    watchNodes(message, stream: stream)
                } catch {
                    stream.finish(error)
                }
            },
        ]
    }

    static func getNode(_ request: Node_V1_GetNodeRequest) throws(GRPCStatus) -> Node_V1_Node {
        guard !request.nodeID.isEmpty else { throw GRPCStatus(.invalidArgument, "node_id is required") }
        guard !request.nodeID.hasPrefix("missing") else {
            throw GRPCStatus(.notFound, "node '\(request.nodeID)' not found")
        }
        var node = Node_V1_Node()
        node.id = request.nodeID
        node.name = "node-\(request.nodeID)"
        node.state = .ready
        node.memoryBytes = 8 << 30
        node.labels = ["zone=local", "role=demo"]
        node.createdAt = Google_Protobuf_Timestamp(seconds: 1_767_225_600)  // 2026-01-01T00:00:00Z
        node.payload = request.echoPayload
        return node
    }

    /// Streams `count` events (10 when unset), paced by `interval_ms` and by flow control.
    static func watchNodes(_ request: Node_V1_WatchNodesRequest, stream: GRPCServerStream) {
        let count = request.count > 0 ? Int(request.count) : 10
        var sequence = 0
        var template = Node_V1_Node()
        template.state = .ready
        template.payload = Data(repeating: 0x61, count: max(0, Int(request.payloadSize)))
        func nextEvent() -> [UInt8] {
            sequence += 1
            var event = Node_V1_NodeEvent()
            event.sequence = Int64(sequence)
            template.id = "n\(sequence)"
            event.node = template
            return (try? encode(event)) ?? []
        }
        if request.intervalMs > 0 {
            let timer = LoopTimerBox()
            timer.start(loop: stream.loop, intervalMilliseconds: Int(request.intervalMs)) {
                guard !stream.cancelled, sequence < count else {
                    timer.stop()
                    stream.finish()
                    return
                }
                stream.send(nextEvent())
            }
            stream.onCancel = { timer.stop() }
        } else {
            stream.onWritable = {
                while sequence < count && stream.queuedBytes < stream.writableThreshold {
                    stream.send(nextEvent())
                }
                if sequence == count {
                    stream.onWritable = nil
                    stream.finish()
                }
            }
        }
    }

    static func decode<M: SwiftProtobuf.Message>(_ bytes: [UInt8]) throws(GRPCStatus) -> M {
        do {
            return try M(serializedBytes: bytes)
        } catch {
            throw GRPCStatus(.invalidArgument, "cannot decode \(M.protoMessageName): \(error)")
        }
    }

    static func encode<M: SwiftProtobuf.Message>(_ message: M) throws(GRPCStatus) -> [UInt8] {
        do {
            return try message.serializedBytes()
        } catch {
            throw GRPCStatus(.internal, "cannot encode \(M.protoMessageName): \(error)")
        }
    }
}
