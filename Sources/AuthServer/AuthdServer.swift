import AuthAPI
public import AuthCore
public import AuthCrypto
public import AuthRPC
import AuthStore
public import Logging
public import ServiceLifecycle

/// The authd server: the store, the domain over it, and the RPC server routing to it.
///
/// The composition root: it builds each owner of state once (the directory snapshot, the
/// login gate, the API keys) and hands them to the stateless flows and the handlers. A
/// `Service` for swift-service-lifecycle: `run()` runs the RPC server and the pruner as one
/// service group until graceful shutdown (SIGTERM), which lets calls in flight finish,
/// says GOAWAY to every connection, stops the pruner, then the hasher.
public final class AuthdServer: Service {
    public struct Configuration: Sendable {
        public var rpc: ServerConfiguration
        /// The SQLite file; created with its schema when missing.
        public var databasePath: String
        public var scrypt: ScryptParameters
        /// Threads that hash passwords; each holds `scrypt.memoryBytes` while it works.
        public var hashingThreads: Int
        /// How many hashes may wait for those threads, in all and per end-user source.
        public var hashQueue: HashQueueLimits
        public var identity: IdentityConfiguration
        /// Time for every expiry and throttle; the system clock but in tests.
        public var clock: any WallClock
        /// Where a first start on an empty database writes the first admin key (mode 0600).
        public var firstAdminKeyFile: String
        /// Also require a service-scope key on Auth calls.
        public var requireServiceKey: Bool
        /// Outbox retries, leases and retention.
        public var mail: MailPolicy
        /// How long ended sessions, finished codes and idle throttles are kept.
        public var retention: RetentionPolicy

        public init(
            rpc: ServerConfiguration = .defaults,
            databasePath: String,
            scrypt: ScryptParameters = .owasp,
            hashingThreads: Int = PasswordHasher.defaultThreadCount,
            hashQueue: HashQueueLimits = .defaults,
            identity: IdentityConfiguration = .defaults,
            clock: any WallClock = SystemWallClock(),
            firstAdminKeyFile: String? = nil,
            requireServiceKey: Bool = false,
            mail: MailPolicy = .defaults,
            retention: RetentionPolicy = .defaults
        ) {
            self.rpc = rpc
            self.databasePath = databasePath
            self.scrypt = scrypt
            self.hashingThreads = hashingThreads
            self.hashQueue = hashQueue
            self.identity = identity
            self.clock = clock
            self.firstAdminKeyFile = firstAdminKeyFile ?? Self.firstAdminKeyFile(for: databasePath)
            self.requireServiceKey = requireServiceKey
            self.mail = mail
            self.retention = retention
        }

        /// Every default; the database is `authd.sqlite` in the working directory.
        public static var defaults: Self { Self(databasePath: "authd.sqlite") }

        /// Where the first admin key goes unless said otherwise: beside the database.
        public static func firstAdminKeyFile(for databasePath: String) -> String {
            databasePath + ".admin-key"
        }
    }

    private let rpcServer: RPCServer
    private let servingState: ServingState
    private let hasher: PasswordHasher
    private let keys: APIKeys
    private let pruner: Pruner
    private let configuration: Configuration
    private let logger: Logger
    private let group: ServiceGroup

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
        let clock = configuration.clock
        let hasher = PasswordHasher(parameters: configuration.scrypt, threads: configuration.hashingThreads, queue: configuration.hashQueue)
        // The owners of state, one each.
        let directory = Directory(store: storage, defaults: configuration.identity.settingsDefaults)
        let loginGate = LoginGate(throttles: storage)
        let keys = APIKeys(storage: storage, clock: clock, logger: logger)
        let servingState = ServingState()
        // The stateless flows over them.
        let identity = IdentityService(
            storage: storage,
            hasher: hasher,
            directory: directory,
            loginGate: loginGate,
            clock: clock,
            configuration: configuration.identity,
            logger: logger
        )
        let administration = AdministrationService(
            storage: storage,
            directory: directory,
            hasher: hasher,
            clock: clock,
            configuration: configuration.identity,
            logger: logger
        )
        let outbox = Outbox(storage: storage, clock: clock, policy: configuration.mail)
        let sessions = SessionAuthenticator(sessions: storage, clock: clock, policy: configuration.identity.sessions)
        let pageGate = PageGate(sessions: sessions, directory: directory)

        var router = Router()
        AuthHandler(identity: identity, sessions: sessions, pageGate: pageGate, directory: directory).register(on: &router)
        AdminHandler(administration: administration, keys: keys, outbox: outbox, directory: directory).register(on: &router)
        MailHandler(outbox: outbox).register(on: &router)
        registeringMore(&router)
        // Health answers for every other service routed, so it is registered last.
        HealthHandler(services: router.serviceNames.union([HealthService.name]), state: servingState).register(on: &router)
        // Who may call what. A service left out here is refused at dispatch.
        router.setAccess(.open, for: HealthService.name)
        router.setAccess(configuration.requireServiceKey ? Self.requireKey(.service, keys) : .open, for: AuthService.name)
        router.setAccess(Self.requireKey(.admin, keys), for: AdminService.name)
        router.setAccess(Self.requireKey(.mailer, keys), for: MailService.name)

        let rpcServer = RPCServer(router: router, configuration: configuration.rpc, logger: logger)
        let pruner = Pruner(storage: storage, clock: clock, retention: configuration.retention, mail: configuration.mail)
        self.rpcServer = rpcServer
        self.servingState = servingState
        self.hasher = hasher
        self.keys = keys
        self.pruner = pruner
        self.configuration = configuration
        self.logger = logger
        // Shut down in reverse: the RPC server drains first, then the pruner stops.
        self.group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: PruningService(pruner: pruner, interval: configuration.retention.interval, logger: logger)),
                    .init(service: RPCService(server: rpcServer, state: servingState, logger: logger)),
                ],
                logger: logger
            )
        )
    }

    private static func requireKey(_ scope: KeyScope, _ keys: APIKeys) -> ServiceAccess {
        .guarded { context throws(RPCError) in
            do throws(AuthError) {
                _ = try await keys.authorize(context.metadata[MetadataKey.authorization], for: scope)
            } catch {
                throw error.rpcError
            }
        }
    }

    /// On a database that never had a key: the operator's way in, an admin key named
    /// "first admin" whose secret is in `firstAdminKeyFile` (mode 0600). Returns the
    /// file's path then, nil on every later start.
    ///
    /// The secret reaches the file before the key is stored, so no key exists whose
    /// secret nobody received; a failed store removes the file again. A file already there
    /// (a crash between the two steps, or a file left from an earlier database) holding a
    /// well-formed secret is adopted: its secret becomes the key.
    public func createFirstAdminKeyIfNeeded() async throws -> String? {
        guard try await keys.isFirstStart() else { return nil }
        let path = configuration.firstAdminKeyFile
        let secret: String
        let adopted: Bool
        if let existing = try SecretFile.read(path) {
            let trimmed = String(String.UnicodeScalarView(existing.unicodeScalars.filter { !$0.properties.isWhitespace }))
            guard APIKeys.looksLikeSecret(trimmed) else {
                throw SecretFile.WriteError(description: "\(path) exists and holds no admin key; move it away and start again")
            }
            secret = trimmed
            adopted = true
        } else {
            secret = APIKeys.newSecret()
            try SecretFile.create(secret + "\n", at: path)
            adopted = false
        }
        let key: APIKey
        do {
            key = try await keys.store(name: "first admin", scope: .admin, secret: secret)
        } catch {
            if !adopted { SecretFile.remove(path) }
            throw error
        }
        logger.notice(
            adopted ? "first admin key created from the secret already in its file" : "first admin key created",
            metadata: ["key": "\(key.id)", "file": "\(path)"])
        return path
    }

    /// Binds the port, so that `localPort` is known before `run()`.
    public func start() async throws {
        try await rpcServer.start()
    }

    public var localPort: Int? {
        rpcServer.localPort
    }

    /// What SIGHUP does: the RPC port's TLS files read again, for new connections.
    @discardableResult
    public func reloadTLS() throws(TLSFileError) -> String? {
        try rpcServer.reloadTLS()
    }

    public func run() async throws {
        do {
            try await group.run()
        } catch {
            await hasher.shutdown()
            throw error
        }
        await hasher.shutdown()
    }

    /// What SIGTERM does; for callers (tests) that run the server without a signal.
    public func beginGracefulShutdown() async {
        await group.triggerGracefulShutdown()
    }
}
