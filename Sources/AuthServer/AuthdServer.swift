import AuthAPI
public import AuthRPC
public import Logging
import ServiceLifecycle

/// The authd server: every service authd implements, routed and served over `RPCServer`.
///
/// A `Service` for swift-service-lifecycle: `run()` serves until graceful shutdown
/// (SIGTERM), then lets calls in flight finish and says GOAWAY to every connection.
public final class AuthdServer: Service {
    public struct Configuration: Sendable {
        public var rpc: ServerConfiguration

        public init(rpc: ServerConfiguration = .defaults) {
            self.rpc = rpc
        }
    }

    private let rpcServer: RPCServer
    private let health: HealthHandler
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "authd")) {
        var router = Router()
        // Health answers for every other service routed, so it is registered last.
        let otherServices: Set<String> = router.serviceNames
        let health = HealthHandler(services: otherServices)
        health.register(on: &router)
        self.health = health
        self.logger = logger
        self.rpcServer = RPCServer(router: router, configuration: configuration.rpc, logger: logger)
    }

    /// Binds the port, so that `localPort` is known before `run()`.
    public func start() async throws {
        try await rpcServer.start()
    }

    public var localPort: Int? {
        rpcServer.localPort
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await rpcServer.run()
        } onGracefulShutdown: {
            self.beginGracefulShutdown()
        }
    }

    public func beginGracefulShutdown() {
        logger.info("shutting down: finishing calls in flight")
        health.beginShutdown()
        rpcServer.beginGracefulShutdown()
    }
}
