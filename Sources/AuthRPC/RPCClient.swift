public import AuthWire
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization

/// Makes typed calls. The generated service clients (`AuthService.Client`, ...) call through it.
public protocol RPCCaller: Sendable {
    func call<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        options: CallOptions
    ) async throws(RPCError) -> Response
}

/// Settings of an `RPCClient`.
public struct ClientConfiguration: Sendable {
    /// Applied to calls whose options give no timeout; nil waits forever.
    public var defaultTimeout: Duration?
    /// Metadata sent with every call (an API key, say); per-call metadata wins.
    public var metadata: [String: String]
    public var connectTimeout: Duration
    /// Largest response frame accepted.
    public var maximumFrameBytes: Int
    /// Counts allowed when decoding responses. Unbounded by default: a client trusts the
    /// server it chose, and its frame limit bounds the work (a page of users holds many).
    public var decodingLimits: DecodingLimits
    /// TLS to a server that serves it; nil speaks plaintext.
    public var tls: ClientTLSConfiguration?

    public init(
        defaultTimeout: Duration? = nil,
        metadata: [String: String] = [:],
        connectTimeout: Duration = .seconds(5),
        maximumFrameBytes: Int = 4 * 1024 * 1024,
        decodingLimits: DecodingLimits = .unbounded,
        tls: ClientTLSConfiguration? = nil
    ) {
        self.defaultTimeout = defaultTimeout
        self.metadata = metadata
        self.connectTimeout = connectTimeout
        self.maximumFrameBytes = maximumFrameBytes
        self.decodingLimits = decodingLimits
        self.tls = tls
    }

    public static var defaults: Self { Self() }
}

/// One multiplexed connection to an authd server: any number of concurrent calls share
/// it, answered in any order. Connects on first use; after the connection is lost
/// (GOAWAY, server restart) the next call connects again. Calls in flight when the
/// connection is lost fail with UNAVAILABLE and are not retried: the client cannot
/// know whether the server acted on them.
public final class RPCClient: RPCCaller {
    public let host: String
    public let port: Int
    private let configuration: ClientConfiguration
    private let group: any EventLoopGroup
    /// Made once from `configuration.tls`: every reconnect handshakes with it.
    private let tlsContext: Result<NIOSSLContext, TLSFileError>?
    private let nextCallID = Atomic<UInt64>(1)
    private let state = Mutex<ConnectionState>(.idle)

    private enum ConnectionState {
        case idle
        case connecting(EventLoopFuture<any Channel>)
        case connected(any Channel)
        case closed
    }

    public init(
        host: String,
        port: Int,
        configuration: ClientConfiguration = .defaults,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.group = group
        self.tlsContext = configuration.tls.map { tls in Result { () throws(TLSFileError) in try tls.makeContext() } }
    }

    public func call<Request, Response>(
        _ method: MethodDescriptor<Request, Response>,
        _ request: Request,
        options: CallOptions = .defaults
    ) async throws(RPCError) -> Response {
        let payload = try await callRaw(method.path, payload: request.encoded(), options: options)
        do throws(WireDecodingError) {
            return try Response(decoding: payload, limits: configuration.decodingLimits)
        } catch {
            throw RPCError.internalError("response of \(method.path) is \(error.description)")
        }
    }

    /// Calls `method` with an already encoded payload and returns the response's bytes.
    /// For tools that relay messages they do not decode; typed callers use `call`.
    public func callRaw(_ method: String, payload: [UInt8], options: CallOptions = .defaults) async throws(RPCError) -> [UInt8] {
        let channel = try await connectedChannel()
        let callID = nextCallID.add(1, ordering: .relaxed).oldValue
        var metadata = configuration.metadata
        for (key, value) in options.metadata {
            metadata[key.lowercased()] = value
        }
        let timeout = options.timeout ?? configuration.defaultTimeout
        var timeoutMs: UInt32 = 0
        if let timeout {
            let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
            timeoutMs = UInt32(clamping: max(milliseconds, 1))
        }
        let frame = AuthV1.Frame(
            kind: .request,
            callID: callID,
            method: method,
            payload: payload,
            metadata: metadata,
            timeoutMs: timeoutMs
        )
        let promise = channel.eventLoop.makePromise(of: AuthV1.Frame.self)
        // A write can fail before it reaches our handler (the channel closed under us):
        // then nobody else would ever complete the call. Completing twice is harmless.
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { error in
            promise.fail(RPCError.unavailable("connection lost before \(method) was sent: \(error)"))
        }
        channel.write(OutgoingCall(frame: frame, promise: promise, timeout: timeout), promise: written)

        let response: AuthV1.Frame
        do {
            response = try await withTaskCancellationHandler {
                try await promise.futureResult.get()
            } onCancel: {
                channel.triggerUserOutboundEvent(CancelCallEvent(callID: callID), promise: nil)
            }
        } catch let error as RPCError {
            throw error
        } catch {
            throw RPCError.unavailable("call \(method) failed: \(error)")
        }
        guard let status = response.status, status.code != .ok else {
            return response.payload
        }
        throw RPCError(status: status)
    }

    /// Closes the connection; calls in flight fail with UNAVAILABLE. Later calls fail too.
    public func close() async {
        let channel: (any Channel)? = state.withLock { state in
            defer { state = .closed }
            if case .connected(let channel) = state { return channel }
            return nil
        }
        try? await channel?.close()
    }

    private func connectedChannel() async throws(RPCError) -> any Channel {
        if case .failure(let error) = tlsContext {
            throw RPCError(code: .invalidArgument, message: "TLS: \(error)")
        }
        let future: EventLoopFuture<any Channel> = try state.withLock { state throws(RPCError) in
            switch state {
            case .connected(let channel) where channel.isActive:
                return channel.eventLoop.makeSucceededFuture(channel)
            case .connecting(let future):
                return future
            case .closed:
                throw RPCError.unavailable("client is closed")
            case .idle, .connected:
                let future = self.connect()
                state = .connecting(future)
                return future
            }
        }
        do {
            return try await future.get()
        } catch {
            throw RPCError.unavailable("cannot connect to \(host):\(port): \(error)")
        }
    }

    private func connect() -> EventLoopFuture<any Channel> {
        let maximumFrameBytes = configuration.maximumFrameBytes
        let limits = configuration.decodingLimits
        let tls = try? tlsContext?.get()
        let serverName = configuration.tls?.expectedName(host: host)
        let future = ClientBootstrap(group: group)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let tls {
                        try handlers.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                    try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: maximumFrameBytes, limits: limits)))
                    try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
                    try handlers.addHandler(ClientConnectionHandler())
                }
            }
            .connect(host: host, port: port)
            .map { $0 as any Channel }
        future.whenComplete { result in
            self.state.withLock { state in
                guard case .connecting(let pending) = state, pending === future else { return }
                switch result {
                case .success(let channel):
                    state = .connected(channel)
                case .failure:
                    state = .idle
                }
            }
            if case .success(let channel) = result {
                channel.closeFuture.whenComplete { _ in
                    self.state.withLock { state in
                        if case .connected(let current) = state, current === channel {
                            state = .idle
                        }
                    }
                }
            }
        }
        return future
    }
}

/// A request on its way out, with the promise its response completes.
struct OutgoingCall: Sendable {
    let frame: AuthV1.Frame
    let promise: EventLoopPromise<AuthV1.Frame>
    let timeout: Duration?
}

/// The caller stopped waiting for `callID` (its task was cancelled).
struct CancelCallEvent: Sendable {
    let callID: UInt64
}

/// The client side of one connection: remembers which promise waits for which call id,
/// enforces deadlines locally, and fails everything still waiting when the connection ends.
final class ClientConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ReceivedFrame
    typealias OutboundIn = OutgoingCall
    typealias OutboundOut = AuthV1.Frame

    private struct PendingCall {
        let promise: EventLoopPromise<AuthV1.Frame>
        var timer: Scheduled<Void>?
    }

    private var pending: [UInt64: PendingCall] = [:]
    private var flushPending = false
    private var closedReason: RPCError?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let call = unwrapOutboundIn(data)
        if let closedReason {
            call.promise.fail(closedReason)
            promise?.fail(closedReason)
            return
        }
        let callID = call.frame.callID
        var entry = PendingCall(promise: call.promise)
        if let timeout = call.timeout {
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
            entry.timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                let handler = loopBound.value
                guard let expired = handler.pending.removeValue(forKey: callID) else { return }
                expired.promise.fail(RPCError.deadlineExceeded("no response to \(call.frame.method) within \(timeout)"))
                handler.send(AuthV1.Frame(kind: .cancel, callID: callID), context: contextBound.value)
            }
        }
        pending[callID] = entry
        context.write(wrapOutboundOut(call.frame), promise: promise)
        scheduleFlush(context: context)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let cancel = event as? CancelCallEvent else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        if let call = pending.removeValue(forKey: cancel.callID) {
            call.timer?.cancel()
            call.promise.fail(RPCError(code: .cancelled, message: "call cancelled by the caller"))
            send(AuthV1.Frame(kind: .cancel, callID: cancel.callID), context: context)
        }
        promise?.succeed()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data).frame
        switch frame.kind {
        case .response:
            // A response to a call we gave up on (deadline, cancel) finds nothing here.
            guard let call = pending.removeValue(forKey: frame.callID) else { return }
            call.timer?.cancel()
            call.promise.succeed(frame)
        case .goaway:
            let status = frame.status ?? AuthV1.Status(code: .unavailable, message: "server sent GOAWAY")
            failAll(RPCError(status: status))
            context.close(promise: nil)
        default:
            failAll(RPCError.internalError("server sent a frame of kind \(frame.kind)"))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RPCError.unavailable("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .tooLarge(let length, _)? = error as? FrameError, Self.isTLSRecordHeader(length) {
            // A TLS server's alert to our plaintext frame: say what to do, not "bad frame".
            failAll(RPCError.unavailable("the server speaks TLS: connect with TLS (ClientConfiguration.tls, authctl --tls-ca)"))
        } else if let frameError = error as? FrameError {
            failAll(RPCError.internalError("bad frame from server: \(frameError.status.message)"))
        } else {
            failAll(RPCError.unavailable("connection failed: \(error)"))
        }
        context.close(promise: nil)
    }

    /// The first four bytes of a TLS record (content type 20–23, version 3.x), read as a
    /// frame's length prefix: far above any frame limit, so never a real frame.
    static func isTLSRecordHeader(_ length: Int) -> Bool {
        (20...23).contains(length >> 24) && (length >> 16) & 0xFF == 3
    }

    private func failAll(_ reason: RPCError) {
        if closedReason == nil {
            closedReason = reason
        }
        let calls = pending
        pending.removeAll()
        for (_, call) in calls {
            call.timer?.cancel()
            call.promise.fail(reason)
        }
    }

    private func send(_ frame: AuthV1.Frame, context: ChannelHandlerContext) {
        context.write(wrapOutboundOut(frame), promise: nil)
        scheduleFlush(context: context)
    }

    /// Coalesces the flushes of calls written in the same event-loop tick.
    private func scheduleFlush(context: ChannelHandlerContext) {
        guard !flushPending else { return }
        flushPending = true
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.eventLoop.execute {
            loopBound.value.flushPending = false
            contextBound.value.flush()
        }
    }
}
