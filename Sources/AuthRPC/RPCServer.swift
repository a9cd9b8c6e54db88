public import Logging
public import NIOCore
import NIOPosix
import Synchronization

/// Serves a `Router` over TCP: framed, multiplexed, bounded.
///
/// `start()` binds; `run()` serves until `beginGracefulShutdown()` (no new connections,
/// calls in flight finish, then every connection gets a GOAWAY) or until it is cancelled.
public final class RPCServer: Sendable {
    private let router: Router
    private let configuration: ServerConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var serverChannel: (any Channel)?
        var connections: [ObjectIdentifier: any Channel] = [:]
        var openConnections = 0
        var shuttingDown = false
    }

    public init(
        router: Router,
        configuration: ServerConfiguration = .defaults,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "authd.rpc")
    ) {
        self.router = router
        self.configuration = configuration
        self.group = group
        self.logger = logger
    }

    /// Binds the listening socket. Separate from `run()` so a caller can learn the port first.
    public func start() async throws {
        let configuration = self.configuration
        let router = self.router
        let logger = self.logger
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let admitted = self.admit(channel)
                    let handlers = channel.pipeline.syncOperations
                    try handlers.addHandler(ByteToMessageHandler(FrameDecoder(maximumFrameBytes: configuration.maximumFrameBytes)))
                    try handlers.addHandler(MessageToByteHandler(FrameEncoder()))
                    if admitted {
                        try handlers.addHandler(IdleStateHandler(readTimeout: TimeAmount(configuration.idleTimeout)))
                        try handlers.addHandler(ServerConnectionHandler(router: router, configuration: configuration, logger: logger))
                    } else {
                        logger.warning("refusing connection: \(configuration.maximumConnections) connections open")
                        try handlers.addHandler(
                            RefuseConnectionHandler(
                                reason: .resourceExhausted("server has \(configuration.maximumConnections) connections open (the limit)")
                            )
                        )
                    }
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        state.withLock { $0.serverChannel = channel }
        logger.info("listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
    }

    /// The bound port; nil before `start()`.
    public var localPort: Int? {
        state.withLock { $0.serverChannel?.localAddress?.port }
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
    }

    /// Stops accepting, lets calls in flight finish, then sends every connection a GOAWAY.
    public func beginGracefulShutdown() {
        let (channel, connections) = state.withLock { state in
            state.shuttingDown = true
            return (state.serverChannel, Array(state.connections.values))
        }
        channel?.close(promise: nil)
        for connection in connections {
            connection.pipeline.fireUserInboundEventTriggered(DrainConnectionEvent())
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

    /// Counts the connection in, or says it is one too many.
    private func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state -> Bool in
            guard state.openConnections < configuration.maximumConnections, !state.shuttingDown else {
                return false
            }
            state.openConnections += 1
            state.connections[id] = channel
            return true
        }
        if admitted {
            channel.closeFuture.whenComplete { _ in
                self.state.withLock { state in
                    state.openConnections -= 1
                    state.connections[id] = nil
                }
            }
        }
        return admitted
    }
}
