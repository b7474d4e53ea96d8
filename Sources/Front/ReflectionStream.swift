// One ServerReflectionInfo call (grpc/doc/server-reflection.md): a bidi stream on which Ferry asks
// for the listed services' descriptor files, then for each import not yet had, and ends its side
// once every file is in. DescriptorSetResolution decides what to ask; this carries the messages.
import FerryCore
import GRPCWeb
import Loop
import Reflection
import Upstream

final class ReflectionStream: UpstreamCallDelegate {
    /// grpc.reflection.v1, and v1alpha: the same messages, which older servers (grpcio's
    /// grpcio-reflection among them) serve under the older name only.
    enum Version: String, Sendable {
        case v1, v1alpha

        var path: String { "/grpc.reflection.\(rawValue).ServerReflection/ServerReflectionInfo" }
        var other: Version { self == .v1 ? .v1alpha : .v1 }
    }

    enum Outcome {
        case resolved(ResolvedDescriptorSet)
        /// The server does not serve this version (UNIMPLEMENTED before any answer).
        case unimplemented
        case failed(String)
    }

    /// The whole exchange's deadline: a few round trips for a few files.
    static let timeoutNanoseconds: UInt64 = 10_000_000_000

    let version: Version
    private let pool: UpstreamPool
    private var resolution: DescriptorSetResolution
    private var decoder = GRPCFrameDecoder(maxMessageBytes: DescriptorSetResolution.maxSetBytes)
    private var call: UpstreamCall?
    private var answers = 0
    private var resolved: ResolvedDescriptorSet?
    private var completion: ((Outcome) -> Void)?
    /// The outcome is delivered from a timer, never from inside the call's own callback: the
    /// receiver may drop this stream, and with it the call whose method is still running.
    private let deliver: LoopTimer
    private var outcome: Outcome?

    init(services: [String], version: Version, pool: UpstreamPool, loop: EventLoop, completion: @escaping (Outcome) -> Void) {
        self.version = version
        self.pool = pool
        self.completion = completion
        resolution = DescriptorSetResolution(services: services)
        var fire: (() -> Void)?
        deliver = LoopTimer(loop: loop) { fire?() }
        fire = { [unowned self] in
            if let outcome = self.outcome, let completion = self.completion {
                self.completion = nil
                completion(outcome)
            }
        }
    }

    func start() {
        let call = UpstreamCall(
            request: UpstreamRequest(
                path: version.path, metadata: HeaderFields(), contentType: "application/grpc",
                timeout: GRPCTimeout(nanoseconds: Int64(Self.timeoutNanoseconds)), body: [], streamsBody: true),
            delegate: self)
        self.call = call
        pool.start(call)
        perform(resolution.start())
    }

    /// No outcome is delivered after this.
    func cancel() {
        completion = nil
        deliver.cancel()
        call?.cancel()
    }

    private func perform(_ action: DescriptorSetResolution.Action) {
        switch action {
        case .send(let requests):
            for request in requests {
                let message = request.serialized
                let frame = GRPCFrame.header(flags: 0, length: message.count) + message
                frame.withUnsafeBytes { call?.sendBody($0) }
            }
        case .wait:
            break
        case .finished(let set):
            resolved = set
            call?.endBody()  // the server ends its side in turn, with the status
        }
    }

    func upstreamCall(_ call: UpstreamCall, received part: UpstreamResponsePart) {
        switch part {
        case .head:
            return
        case .data(let bytes):
            call.consume(bytes.count)
            do {
                for frame in try decoder.decode(bytes) {
                    guard !frame.isCompressed else { return fail("the server sent a compressed message, which Ferry did not offer") }
                    answers += 1
                    perform(try resolution.received(frame.payload))
                }
            } catch {
                fail("\(error)")
            }
        case .trailers(let trailers):
            let status = GRPCStatus(trailers: trailers)
            if let resolved {
                finish(.resolved(resolved))
            } else if status.code == .unimplemented && answers == 0 {
                finish(.unimplemented)
            } else if status.code != .ok {
                finish(.failed("\(version.path) ended with \(status.code.name): \(status.message)"))
            } else {
                finish(.failed("\(version.path) ended before every file had been sent"))
            }
        case .failed(let status):
            finish(.failed("\(version.path) failed: \(status.code.name): \(status.message)"))
        }
    }

    private func fail(_ reason: String) {
        call?.cancel()
        finish(.failed(reason))
    }

    private func finish(_ outcome: Outcome) {
        guard self.outcome == nil else { return }
        self.outcome = outcome
        deliver.schedule(afterNanoseconds: 0)
    }
}
