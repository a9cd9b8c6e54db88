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
        /// Where a first start on an empty database writes the first admin key (mode 0600).
        public var firstAdminKeyFile: String
        /// Also require a service-scope key on Auth calls.
        public var requireServiceKey: Bool
        /// Outbox retries, leases and retention.
        public var mail: MailPolicy

        public init(
            rpc: ServerConfiguration = .defaults,
            databasePath: String,
            scrypt: ScryptParameters = .owasp,
            hashingThreads: Int = PasswordHasher.defaultThreadCount,
            identity: IdentityConfiguration = .defaults,
            clock: any WallClock = SystemWallClock(),
            firstAdminKeyFile: String? = nil,
            requireServiceKey: Bool = false,
            mail: MailPolicy = .defaults
        ) {
            self.rpc = rpc
            self.databasePath = databasePath
            self.scrypt = scrypt
            self.hashingThreads = hashingThreads
            self.identity = identity
            self.clock = clock
            self.firstAdminKeyFile = firstAdminKeyFile ?? databasePath + ".admin-key"
            self.requireServiceKey = requireServiceKey
            self.mail = mail
        }
    }

    private let rpcServer: RPCServer
    private let health: HealthHandler
    private let hasher: PasswordHasher
    private let keys: APIKeyService
    private let mailQueue: MailQueue
    private let configuration: Configuration
    private let logger: Logger

    public convenience init(configuration: Configuration, logger: Logger = Logger(label: "authd")) throws {
        try self.init(configuration: configuration, logger: logger, registeringMore: { _ in })
    }

    /// `registeringMore` adds methods to the router beside the real services: tests use it
    /// to show that a method added to a guarded service is guarded without further code.
    package init(
        configuration: Configuration,
        logger: Logger,
        registeringMore: (inout Router) -> Void
    ) throws {
        let storage = try SQLiteStorage(path: configuration.databasePath)
        let hasher = PasswordHasher(parameters: configuration.scrypt, threads: configuration.hashingThreads)
        let identity = IdentityService(
            storage: storage,
            hasher: hasher,
            clock: configuration.clock,
            configuration: configuration.identity,
            logger: logger
        )
        let administration = AdministrationService(
            storage: storage,
            hasher: hasher,
            clock: configuration.clock,
            configuration: configuration.identity,
            logger: logger
        )
        let keys = APIKeyService(storage: storage, clock: configuration.clock)
        let mailQueue = MailQueue(storage: storage, clock: configuration.clock, policy: configuration.mail)
        let pageGate = PageGate(identity: identity, administration: administration)

        var router = Router()
        AuthHandler(identity: identity, administration: administration, pageGate: pageGate).register(on: &router)
        AdminHandler(administration: administration, keys: keys, mailQueue: mailQueue).register(on: &router)
        MailHandler(queue: mailQueue).register(on: &router)
        registeringMore(&router)
        // Health answers for every other service routed, so it is registered last.
        let health = HealthHandler(services: router.serviceNames.union([HealthService.name]))
        health.register(on: &router)
        // Who may call what. A service left out here is refused at dispatch.
        router.setAccess(.open, for: HealthService.name)
        router.setAccess(configuration.requireServiceKey ? Self.requireKey(.service, keys) : .open, for: AuthService.name)
        router.setAccess(Self.requireKey(.admin, keys), for: AdminService.name)
        router.setAccess(Self.requireKey(.mailer, keys), for: MailService.name)

        self.health = health
        self.hasher = hasher
        self.keys = keys
        self.mailQueue = mailQueue
        self.configuration = configuration
        self.logger = logger
        self.rpcServer = RPCServer(router: router, configuration: configuration.rpc, logger: logger)
    }

    private static func requireKey(
        _ scope: KeyScope,
        _ keys: APIKeyService
    ) -> ServiceAccess {
        .guarded { context throws(RPCError) in
            do throws(AuthError) {
                _ = try await keys.authorize(context.metadata[MetadataKey.authorization], for: scope)
            } catch {
                throw error.rpcError
            }
        }
    }

    /// On an empty database: creates the first admin key and writes its secret to
    /// `firstAdminKeyFile` (mode 0600, never overwritten). Returns the file's path then,
    /// nil on every later start.
    public func createFirstAdminKeyIfNeeded() async throws -> String? {
        let path = configuration.firstAdminKeyFile
        guard let (key, secret) = try await keys.createFirstAdminKeyIfNone() else { return nil }
        try SecretFile.write(secret + "\n", to: path)
        logger.notice("first admin key created", metadata: ["key": "\(key.id)", "file": "\(path)"])
        return path
    }

    /// Binds the port, so that `localPort` is known before `run()`.
    public func start() async throws {
        try await rpcServer.start()
    }

    public var localPort: Int? {
        rpcServer.localPort
    }

    public func run() async throws {
        // Sent messages are pruned hourly while the server runs.
        let pruning = Task { [mailQueue, logger] in
            while !Task.isCancelled {
                do {
                    let pruned = try await mailQueue.pruneSent()
                    if pruned > 0 { logger.info("pruned sent messages", metadata: ["count": "\(pruned)"]) }
                } catch {
                    logger.warning("pruning sent messages failed: \(error)")
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        defer { pruning.cancel() }
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
