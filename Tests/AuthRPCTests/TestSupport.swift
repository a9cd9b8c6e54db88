import AuthRPC
import AuthWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// Test methods over existing messages: the request's value is "<delay ms>:<text>",
/// the response echoes the text after the delay.
enum TestMethods {
    static let service = "test.v1.Test"
    static let echo = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Echo")
    static let fail = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Fail")
    static let block = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Block")
    static let metadata = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Metadata")
    /// Records its start, then takes 300 ms.
    static let slow = MethodDescriptor<AuthV1.StringValue, AuthV1.StringValue>(service: "test.v1.Test", method: "Slow")
    /// Answers how many values the list holds: a request with a repeated field.
    static let count = MethodDescriptor<AuthV1.StringList, AuthV1.StringValue>(service: "test.v1.Test", method: "Count")
}

/// Records which blocking calls saw their task cancelled.
final class CancellationLog: Sendable {
    private let cancelled = Mutex<[String]>([])
    private let started = Mutex<[String]>([])

    func recordStart(_ name: String) { started.withLock { $0.append(name) } }
    func recordCancel(_ name: String) { cancelled.withLock { $0.append(name) } }
    var startedNames: [String] { started.withLock { $0 } }
    var cancelledNames: [String] { cancelled.withLock { $0 } }

    func waitUntilCancelled(_ name: String) async -> Bool {
        for _ in 0..<400 {
            if cancelledNames.contains(name) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

    func waitUntilStarted(_ name: String) async -> Bool {
        for _ in 0..<400 {
            if startedNames.contains(name) { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return false
    }
}

func makeTestRouter(log: CancellationLog = CancellationLog()) -> Router {
    var router = Router()
    router.register(TestMethods.echo) { request, _ in
        let parts = request.value.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let delay = Int(parts.first ?? "0") ?? 0
        if delay > 0 {
            try? await Task.sleep(for: .milliseconds(delay))
        }
        return AuthV1.StringValue(value: parts.count > 1 ? String(parts[1]) : "")
    }
    router.register(TestMethods.fail) { request, _ in
        throw RPCError.invalidArgument("value '\(request.value)' is not acceptable", field: "value")
    }
    router.register(TestMethods.block) { request, _ in
        log.recordStart(request.value)
        do {
            try await Task.sleep(for: .seconds(30))
        } catch {
            log.recordCancel(request.value)
        }
        return AuthV1.StringValue(value: "finished")
    }
    router.register(TestMethods.slow) { request, _ in
        log.recordStart(request.value)
        try? await Task.sleep(for: .milliseconds(300))
        return AuthV1.StringValue(value: "done")
    }
    router.register(TestMethods.metadata) { request, context in
        AuthV1.StringValue(value: context.metadata[request.value] ?? "<none>")
    }
    router.register(TestMethods.count) { request, _ in
        AuthV1.StringValue(value: "\(request.values.count)")
    }
    router.setAccess(.open, for: TestMethods.service)
    return router
}

/// An RPCServer on a free loopback port, shut down by `stop()`.
struct RunningServer {
    let server: RPCServer
    let port: Int
    let task: Task<Void, any Error>

    static func start(
        router: Router = makeTestRouter(),
        configure: (inout ServerConfiguration) -> Void = { _ in }
    ) async throws -> RunningServer {
        var configuration = ServerConfiguration(port: 0)
        configure(&configuration)
        var logger = Logger(label: "test.rpc")
        logger.logLevel = .critical
        let server = RPCServer(router: router, configuration: configuration, logger: logger)
        try await server.start()
        let task = Task { try await server.run() }
        return RunningServer(server: server, port: server.localPort!, task: task)
    }

    func client(_ configuration: ClientConfiguration = .defaults) -> RPCClient {
        RPCClient(host: "127.0.0.1", port: port, configuration: configuration)
    }

    func stop() async {
        server.beginGracefulShutdown()
        _ = await task.result
    }
}

/// A connection that writes raw bytes and reads raw frames, for feeding the server what
/// no well-behaved client would.
struct RawConnection {
    let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>

    /// `from` binds the local end: 127.0.0.2 is another peer address on loopback.
    static func connect(port: Int, from localAddress: String? = nil) async throws -> RawConnection {
        var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        if let localAddress {
            bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: localAddress, port: 0))
        }
        let channel = try await bootstrap
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true)
                    )
                }
            }
        return RawConnection(channel: channel)
    }

    static func frameBytes(_ frame: AuthV1.Frame) -> [UInt8] {
        let body = frame.encoded()
        let length = UInt32(body.count)
        return [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)] + body
    }

    /// Writes `bytes`, optionally half-closes, then reads frames until the server closes
    /// (or `untilFrames` frames arrived). Returns the frames and whether the server closed.
    func exchange(
        _ bytes: [UInt8],
        halfClose: Bool = false,
        untilFrames: Int? = nil
    ) async throws -> (frames: [AuthV1.Frame], closed: Bool) {
        try await exchange(pieces: [bytes], halfClose: halfClose, untilFrames: untilFrames)
    }

    /// The same, writing each piece on its own after a pause, so that they arrive (most
    /// likely) in reads of their own.
    func exchange(
        pieces: [[UInt8]],
        pause: Duration = .zero,
        halfClose: Bool = false,
        untilFrames: Int? = nil
    ) async throws -> (frames: [AuthV1.Frame], closed: Bool) {
        try await channel.executeThenClose { inbound, outbound in
            for bytes in pieces where !bytes.isEmpty {
                // The server may already have said GOAWAY and closed (connection limit):
                // what it sent is still there to read.
                try? await outbound.write(ByteBuffer(bytes: bytes))
                if pause > .zero {
                    try await Task.sleep(for: pause)
                }
            }
            if halfClose {
                outbound.finish()
            }
            var buffer = ByteBuffer()
            var frames: [AuthV1.Frame] = []
            for try await chunk in inbound {
                buffer.writeImmutableBuffer(chunk)
                while let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self),
                    buffer.readableBytes >= 4 + Int(length)
                {
                    buffer.moveReaderIndex(forwardBy: 4)
                    let body = buffer.readBytes(length: Int(length))!
                    frames.append(try AuthV1.Frame(decoding: body))
                }
                if let untilFrames, frames.count >= untilFrames {
                    return (frames, false)
                }
            }
            return (frames, true)
        }
    }
}

func echoRequest(_ value: String) -> [UInt8] {
    AuthV1.StringValue(value: value).encoded()
}
