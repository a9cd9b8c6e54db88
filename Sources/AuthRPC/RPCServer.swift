#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
public import Logging
public import NIOCore
public import NIOPosix
import NIOSSL
import Synchronization
import CoreMetrics

/// Serves a `Router` over TCP: framed, multiplexed, bounded.
///
/// `start()` binds; `run()` serves until `beginGracefulShutdown()` (no new connections,
/// calls in flight finish, then every connection gets a GOAWAY) or until it is cancelled.
public final class RPCServer: Sendable {
    /// Bytes one read may take from a socket, and reads per wake-up: together the most a
    /// connection reads past its budget before its reads pause (r in docs/operations.md).
    static let maximumReadBytes = 16 * 1024
    static let readsPerWakeUp = 1

    /// File descriptors authd needs besides its connections: database, log, event loops.
    static let reservedFileDescriptors = 128

    private let router: Router
    private let configuration: ServerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let log: RateLimitedLog
    private let acceptLog: RateLimitedLog
    private let readBudget: ServerReadBudget
    private let metrics: RPCMetrics?
    private let state = Mutex(State())

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var connectionsPerPeer: [String: Int] = [:]
        var shuttingDown = false
        var logFlush: RepeatedTask?
        var tls: ServerTLSContext?
    }

    public init(
        router: Router,
        configuration: ServerConfiguration = .defaults,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "authd.rpc"),
        metrics: RPCMetrics? = nil
    ) {
        precondition(configuration.problem == nil, configuration.problem ?? "")
        self.router = metrics.map { router.instrumented(with: $0) } ?? router
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.log = RateLimitedLog(logger: logger, linesPerSecond: configuration.logLinesPerPeerPerSecond)
        self.acceptLog = RateLimitedLog(logger: logger, linesPerSecond: 1)
        self.readBudget = ServerReadBudget(limit: configuration.maximumBufferedBytes)
        self.metrics = metrics
    }

    /// Binds the listening socket. Separate from `run()` so a caller can learn the port first.
    /// With TLS configured, its files are read first: a `TLSFileError` says which one is wrong.
    public func start() async throws {
        raiseFileDescriptorLimit()
        let tls = try configuration.tls.map { configuration throws(TLSFileError) in try ServerTLSContext(configuration) }
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let log = self.log
        let acceptLog = self.acceptLog
        let readBudget = self.readBudget
        let metrics = self.metrics
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Out of descriptors, accept fails: retry a second later (NIO's backoff) and say so.
                    try channel.pipeline.syncOperations.addHandler(AcceptBackoffHandler(shouldForwardIOErrorCaught: true))
                    try channel.pipeline.syncOperations.addHandler(AcceptErrorLogger(log: acceptLog))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: UInt(Self.readsPerWakeUp))
            .childChannelOption(
                .recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 2048, maximum: Self.maximumReadBytes)
            )
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handlers = channel.pipeline.syncOperations
                    if let refusal = self.admit(channel) {
                        // Nothing it sends is read: it gets its GOAWAY and is closed.
                        try channel.syncOptions?.setOption(.autoRead, value: false)
                        let peer = channel.remoteAddress?.ipAddress ?? "?"
                        log.log(.warning, key: peer, "refusing connection: \(refusal.message)", metadata: ["peer": "\(peer)"])
                        if tls != nil {
                            // A GOAWAY would need a handshake first: the work a refusal saves.
                            try handlers.addHandler(CloseOnActiveHandler())
                            return
                        }
                        try handlers.addHandler(RefuseConnectionHandler(reason: refusal))
                        return
                    }
                    if let tls {
                        // The context of this moment: a reload later changes new connections only.
                        try handlers.addHandler(NIOSSLServerHandler(context: tls.context))
                    }
                    let readBudgetHandler = ReadBudgetHandler(
                        connectionLimit: configuration.maximumBufferedBytesPerConnection,
                        server: readBudget,
                        log: log
                    )
                    try handlers.addHandler(readBudgetHandler)
                    try handlers.addHandler(
                        ServerConnectionHandler(
                            router: router, configuration: configuration, readBudget: readBudgetHandler,
                            logger: logger, log: log, metrics: metrics
                        )
                    )
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        let flush = channel.eventLoop.scheduleRepeatedTask(initialDelay: .seconds(1), delay: .seconds(1)) { _ in
            log.flush()
            acceptLog.flush()
        }
        state.withLock {
            $0.serverChannel = channel
            $0.logFlush = flush
            $0.tls = tls
        }
        let address = channel.localAddress
        if let tls {
            logger.info("listening with TLS", metadata: [
                "address": "\(address?.description ?? "?")",
                "certificate": "\(tls.servedCertificate)",
                "client-certificates": "\(tls.configuration.clientAuthentication.rawValue)",
            ])
        } else {
            logger.info("listening", metadata: ["address": "\(address?.description ?? "?")"])
            if let address, !address.isLoopback {
                logger.warning(
                    "listening in plaintext on \(address), which is not a loopback address: tokens, passwords and API keys cross the network readable; set tls.certFile and tls.keyFile (docs/configuration.md)"
                )
            }
        }
    }

    /// Reads the TLS files again: new connections get the new certificate, open ones keep
    /// theirs. On failure the old certificate stays in use. Returns which certificate is now
    /// served, or nil without TLS.
    @discardableResult
    public func reloadTLS() throws(TLSFileError) -> String? {
        guard let tls = state.withLock({ $0.tls }) else { return nil }
        try tls.reload()
        return tls.servedCertificate
    }

    /// The bound port; nil before `start()`.
    public var localPort: Int? {
        state.withLock { $0.serverChannel?.localAddress?.port }
    }

    /// Bytes read from all connections and not yet done with (the server-wide read budget's use).
    public var bufferedBytes: Int {
        readBudget.used
    }

    /// Serves until the listening socket closes and every connection has ended.
    public func run() async throws {
        if state.withLock({ $0.serverChannel == nil }) {
            try await start()
        }
        guard let channel = state.withLock({ $0.serverChannel }) else { return }
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
            try await waitForConnectionsToEnd()
        } onCancel: {
            self.beginGracefulShutdown()
        }
        state.withLock { $0.logFlush?.cancel() }
        log.flush(all: true)
        acceptLog.flush(all: true)
    }

    /// Stops accepting, lets calls in flight finish, then sends every connection a GOAWAY.
    ///
    /// This is what swift-nio-extras' `ServerQuiescingHelper` does, with its event
    /// (`ChannelShouldQuiesceEvent`); it is not used because the server already owns the
    /// table of open connections (for the global and per-peer caps), and the helper would
    /// keep a second one of the same channels and add a dependency for a dozen lines.
    public func beginGracefulShutdown() {
        let (channel, connections) = state.withLock { state in
            state.shuttingDown = true
            return (state.serverChannel, Array(state.connections.values))
        }
        channel?.close(promise: nil)
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        // Connections that ignore the drain (a call that never ends) are closed after the grace period.
        let grace = TimeAmount(configuration.shutdownGracePeriod)
        for connection in connections {
            connection.eventLoop.scheduleTask(in: grace) { connection.close(promise: nil) }
        }
    }

    private func waitForConnectionsToEnd() async throws {
        let connections = state.withLock { Array($0.connections.values) }
        for connection in connections {
            try? await connection.closeFuture.get()
        }
    }

    /// Counts the connection in, or says why it is one too many: the server's limit first,
    /// then its peer's (keyed by IP address, not port: one source, one share).
    private func admit(_ channel: any Channel) -> RPCError? {
        let id = ObjectIdentifier(channel)
        let peer = channel.remoteAddress?.ipAddress ?? "?"
        let refusal = state.withLock { state -> RPCError? in
            if state.shuttingDown {
                return .unavailable("server is shutting down")
            }
            guard state.connections.count < configuration.maximumConnections else {
                return .resourceExhausted("server has \(configuration.maximumConnections) connections open (the limit)")
            }
            let fromPeer = state.connectionsPerPeer[peer, default: 0]
            guard fromPeer < configuration.maximumConnectionsPerPeer else {
                return .resourceExhausted(
                    "\(peer) has \(configuration.maximumConnectionsPerPeer) connections open (the limit per peer address)"
                )
            }
            state.connectionsPerPeer[peer] = fromPeer + 1
            state.connections[id] = channel
            return nil
        }
        if refusal == nil {
            metrics?.connectionsOpen.increment()
            channel.closeFuture.whenComplete { [metrics] _ in
                metrics?.connectionsOpen.decrement()
                self.state.withLock { state in
                    state.connections[id] = nil
                    let left = state.connectionsPerPeer[peer, default: 1] - 1
                    state.connectionsPerPeer[peer] = left > 0 ? left : nil
                }
            }
        }
        return refusal
    }

    /// Connections need a descriptor each: raise the soft limit towards the hard one when it
    /// is below what `maximumConnections` needs, and say so when even the hard one is.
    private func raiseFileDescriptorLimit() {
        #if canImport(Glibc) || canImport(Musl) || canImport(Darwin)
        var limit = rlimit()
        guard getrlimit(resourceLimitOpenFiles, &limit) == 0 else { return }
        let needed = rlim_t(configuration.maximumConnections + Self.reservedFileDescriptors)
        guard limit.rlim_cur < needed else { return }
        let raised = min(needed, limit.rlim_max)
        if raised > limit.rlim_cur {
            var wanted = limit
            wanted.rlim_cur = raised
            if setrlimit(resourceLimitOpenFiles, &wanted) == 0 {
                limit = wanted
            }
        }
        if limit.rlim_cur < needed {
            logger.warning(
                "the open-file limit (\(limit.rlim_cur)) is below what \(configuration.maximumConnections) connections need (\(needed)): raise LimitNOFILE or lower --max-connections"
            )
        }
        #endif
    }
}

extension SocketAddress {
    /// 127.0.0.0/8 or ::1 (an IPv4-mapped loopback too): reachable from this host only.
    var isLoopback: Bool {
        switch self {
        case .v4:
            return ipAddress?.hasPrefix("127.") ?? false
        case .v6:
            guard let ip = ipAddress else { return false }
            return ip == "::1" || ip.hasPrefix("::ffff:127.")
        case .unixDomainSocket:
            return true
        }
    }
}

#if canImport(Glibc)
private let resourceLimitOpenFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
#elseif canImport(Musl) || canImport(Darwin)
private let resourceLimitOpenFiles = RLIMIT_NOFILE
#endif

/// Closes a connection as soon as it is up: a refusal over TLS, which has no GOAWAY to say.
final class CloseOnActiveHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        context.close(promise: nil)
    }
}

/// Logs a failed accept (most often: out of file descriptors) at most once a second; NIO's
/// `AcceptBackoffHandler` before it retries a second later. Without it, such failures are silent.
final class AcceptErrorLogger: ChannelInboundHandler {
    typealias InboundIn = any Channel

    private let log: RateLimitedLog

    init(log: RateLimitedLog) {
        self.log = log
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let error = error as? IOError else {
            context.fireErrorCaught(error)
            return
        }
        let reason: String
        switch error.errnoCode {
        case EMFILE: reason = "out of file descriptors (EMFILE: the process's open-file limit); raise LimitNOFILE"
        case ENFILE: reason = "out of file descriptors (ENFILE: the system's limit)"
        default: reason = "\(error)"
        }
        log.log(.error, key: "accept", "cannot accept connections: \(reason); retrying in 1 s")
    }
}
