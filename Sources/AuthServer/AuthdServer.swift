import AuthAPI
public import AuthCore
public import AuthCrypto
public import AuthRPC
import AuthStore
public import Logging
public import ServiceLifecycle

/// The authd server: the store, the services over it, and the RPC server routing to them.
///
/// A `Service` for swift-service-lifecycle: `run()` serves until graceful shutdown
/// (SIGTERM), then lets calls in flight finish and says GOAWAY to every connection.
public final class AuthdServer: Service {
    public struct Configuration: Sendable {
        public var rpc: ServerConfiguration
        /// The SQLite file; created with its schema when missing.
        public var databasePath: String
        public var scrypt: ScryptParameters
        /// Threads that hash passwords; each holds `scrypt.memoryBytes` while it works.
        public var hashingThreads: Int
        public var identity: IdentityConfiguration
        /// Time for every expiry and throttle; the system clock but in tests.
        public var clock: any WallClock

        public init(
            rpc: ServerConfiguration = .defaults,
            databasePath: String,
            scrypt: ScryptParameters = .owasp,
            hashingThreads: Int = PasswordHasher.defaultThreadCount,
            identity: IdentityConfiguration = .defaults,
            clock: any WallClock = SystemWallClock()
        ) {
            self.rpc = rpc
            self.databasePath = databasePath
            self.scrypt = scrypt
            self.hashingThreads = hashingThreads
            self.identity = identity
            self.clock = clock
        }
    }

    private let rpcServer: RPCServer
    private let health: HealthHandler
    private let hasher: PasswordHasher
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger = Logger(label: "authd")) throws {
        let storage = try SQLiteStorage(path: configuration.databasePath)
        let hasher = PasswordHasher(parameters: configuration.scrypt, threads: configuration.hashingThreads)
        let identity = IdentityService(
            storage: storage,
            hasher: hasher,
            clock: configuration.clock,
            configuration: configuration.identity,
            logger: logger
        )

        var router = Router()
        AuthHandler(identity: identity).register(on: &router)
        // Health answers for every other service routed, so it is registered last.
        let health = HealthHandler(services: router.serviceNames)
        health.register(on: &router)

        self.health = health
        self.hasher = hasher
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
        do {
            try await withGracefulShutdownHandler {
                try await rpcServer.run()
            } onGracefulShutdown: {
                self.beginGracefulShutdown()
            }
        } catch {
            await hasher.shutdown()
            throw error
        }
        await hasher.shutdown()
    }

    public func beginGracefulShutdown() {
        logger.info("shutting down: finishing calls in flight")
        health.beginShutdown()
        rpcServer.beginGracefulShutdown()
    }
}
