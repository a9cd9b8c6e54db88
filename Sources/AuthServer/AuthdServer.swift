import AuthAPI
public import AuthCore
public import AuthCrypto
public import AuthManagement
public import AuthRPC
import AuthPostgres
import AuthStore
import CoreMetrics
public import Logging
import Prometheus
public import ServiceLifecycle

/// The authd server: the store, the domain over it, and the RPC server routing to it.
///
/// The composition root: it builds each owner of state once (the directory snapshot, the
/// login gate, the API keys) and hands them to the stateless flows and the handlers. A
/// `Service` for swift-service-lifecycle: `run()` runs the management port, the pruner and
/// the RPC server as one service group until graceful shutdown (SIGTERM), which stops them
/// in reverse: `/readyz` turns 503 and the RPC server stops accepting, lets calls in flight
/// finish (within `rpc.shutdownGracePeriod`) and says GOAWAY to every connection; then the
/// pruner and the management port stop, the hasher's threads end and the database closes.
public final class AuthdServer: Service {
    public struct Configuration: Sendable {
        public var rpc: ServerConfiguration
        /// The SQLite file; created with its schema when missing. Unused with `postgresURL`.
        public var databasePath: String
        /// A PostgreSQL database (`postgres://user@host:port/db`) instead of the SQLite file:
        /// several authd processes may serve from one.
        public var postgresURL: String?
        /// Connections this instance's pool opens to PostgreSQL at most (one of them
        /// listens for the other instances' changes).
        public var postgresConnections: Int
        public var scrypt: ScryptParameters
        /// Threads that hash passwords; each keeps `scrypt.memoryBytes` from its first hash on.
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
        /// How many sessions the token check keeps in memory, and for how long at most.
        public var sessionCache: SessionCache.Limits
        /// The management HTTP port (health, readiness, metrics); off by default, and
        /// with it off no metric is recorded.
        public var management: ManagementConfiguration

        public init(
            rpc: ServerConfiguration = .defaults,
            databasePath: String,
            postgresURL: String? = nil,
            postgresConnections: Int = 20,
            scrypt: ScryptParameters = .owasp,
            hashingThreads: Int = PasswordHasher.defaultThreadCount,
            hashQueue: HashQueueLimits = .defaults,
            identity: IdentityConfiguration = .defaults,
            clock: any WallClock = SystemWallClock(),
            firstAdminKeyFile: String? = nil,
            requireServiceKey: Bool = false,
            mail: MailPolicy = .defaults,
            retention: RetentionPolicy = .defaults,
            sessionCache: SessionCache.Limits = .defaults,
            management: ManagementConfiguration = .defaults
        ) {
            self.rpc = rpc
            self.databasePath = databasePath
            self.postgresURL = postgresURL
            self.postgresConnections = postgresConnections
            self.scrypt = scrypt
            self.hashingThreads = hashingThreads
            self.hashQueue = hashQueue
            self.identity = identity
            self.clock = clock
            self.firstAdminKeyFile = firstAdminKeyFile ?? Self.firstAdminKeyFile(for: databasePath)
            self.requireServiceKey = requireServiceKey
            self.mail = mail
            self.retention = retention
            self.sessionCache = sessionCache
            self.management = management
        }

        /// Every default; the database is `authd.sqlite` in the working directory.
        public static var defaults: Self { Self(databasePath: "authd.sqlite") }

        /// What is wrong with `url` as a `postgresURL` (nil when nothing): for a
        /// configuration check before any connection is tried.
        public static func problem(withPostgresURL url: String) -> String? {
            PostgresStorage.problem(withURL: url)
        }

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
    private let storage: any ServedStorage
    private let management: ManagementServer?
    private let configuration: Configuration
    private let logger: Logger
    private let group: ServiceGroup

    public convenience init(configuration: Configuration, logger: Logger = Logger(label: "authd")) async throws {
        try await self.init(configuration: configuration, logger: logger, registeringMore: { _ in })
    }

    /// `registeringMore` adds methods to the router beside the real services: tests use it
    /// to show that a method added to a guarded service is guarded without further code.
    package init(
        configuration: Configuration,
        logger: Logger,
        registeringMore: (inout Router) -> Void
    ) async throws {
        // Metrics only with the management port that shows them: off, nothing is recorded.
        let registry = configuration.management.enabled ? PrometheusCollectorRegistry() : nil
        let factory = registry.map(Self.metricsFactory(registry:))
        let domainMetrics = factory.map(DomainMetrics.init(factory:)) ?? .disabled
        let database: any ServedStorage
        // With a shared database, what this process changes is announced to the others.
        let feed: (any SharedChangeFeed)?
        if let url = configuration.postgresURL {
            let postgres = try await PostgresStorage(
                url: url, maximumConnections: configuration.postgresConnections, logger: logger, metrics: factory)
            (database, feed) = (postgres, postgres)
        } else {
            (database, feed) = (try SQLiteStorage(path: configuration.databasePath, metrics: factory), nil)
        }
        // Every service writes through CachingStorage, which keeps the session cache true.
        let sessionCache = SessionCache(limits: configuration.sessionCache)
        let storage = CachingStorage(database, cache: sessionCache, feed: feed)
        let toucher = SessionToucher(store: storage)
        let clock = configuration.clock
        let hasher = PasswordHasher(
            parameters: configuration.scrypt, threads: configuration.hashingThreads, queue: configuration.hashQueue,
            observer: factory == nil ? nil : domainMetrics)
        // The owners of state, one each.
        let directory = Directory(store: storage, defaults: configuration.identity.settingsDefaults)
        let loginGate = LoginGate(throttles: storage)
        let keys = APIKeys(storage: storage, clock: clock, logger: logger)
        let servingState = ServingState()
        // The stateless flows over them.
        let sessions = SessionAuthenticator(
            sessions: storage, cache: sessionCache, toucher: toucher, clock: clock, policy: configuration.identity.sessions,
            metrics: domainMetrics)
        let identity = IdentityService(
            storage: storage,
            hasher: hasher,
            directory: directory,
            loginGate: loginGate,
            sessions: sessions,
            clock: clock,
            configuration: configuration.identity,
            metrics: domainMetrics,
            logger: logger
        )
        let administration = AdministrationService(
            storage: storage,
            directory: directory,
            hasher: hasher,
            clock: clock,
            configuration: configuration.identity,
            metrics: domainMetrics,
            logger: logger
        )
        let outbox = Outbox(storage: storage, clock: clock, policy: configuration.mail, metrics: domainMetrics)
        let pageGate = PageGate(sessions: sessions, directory: directory)

        var router = Router()
        let authHandler = AuthHandler(identity: identity, sessions: sessions, pageGate: pageGate, directory: directory)
        authHandler.register(on: &router)
        authHandler.registerAnswersFromMemory(on: &router)
        AdminHandler(administration: administration, keys: keys, outbox: outbox, directory: directory).register(on: &router)
        MailHandler(outbox: outbox).register(on: &router)
        registeringMore(&router)
        // Health answers for every other service routed, so it is registered last.
        let healthHandler = HealthHandler(services: router.serviceNames.union([HealthService.name]), state: servingState)
        healthHandler.register(on: &router)
        healthHandler.registerAnswersFromMemory(on: &router)
        // Who may call what. A service left out here is refused at dispatch.
        router.setAccess(.open, for: HealthService.name)
        router.setAccess(configuration.requireServiceKey ? Self.requireKey(.service, keys) : .open, for: AuthService.name)
        router.setAccess(Self.requireKey(.admin, keys), for: AdminService.name)
        router.setAccess(Self.requireKey(.mailer, keys), for: MailService.name)

        let rpcServer = RPCServer(
            router: router, configuration: configuration.rpc, logger: logger,
            metrics: factory.map { RPCMetrics(factory: $0, methods: router.methodNames) })
        let pruner = Pruner(storage: storage, clock: clock, retention: configuration.retention, mail: configuration.mail)
        let management = registry.map { registry in
            let outboxGauges = OutboxGauges(factory: Self.metricsFactory(registry: registry))
            return ManagementServer(
                configuration: configuration.management,
                registry: registry,
                readiness: Self.readiness(storage: database, state: servingState),
                beforeScrape: { await outboxGauges.refresh(from: outbox, logger: logger) },
                logger: logger
            )
        }
        self.rpcServer = rpcServer
        self.servingState = servingState
        self.hasher = hasher
        self.keys = keys
        self.pruner = pruner
        self.storage = database
        self.management = management
        self.configuration = configuration
        self.logger = logger
        // Shut down in reverse: the RPC server drains first (readiness already 503), then
        // the session uses are written back, the pruner stops, and the management port last,
        // so that it answers during the drain.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let management { services.append(.init(service: management)) }
        services.append(.init(service: PruningService(pruner: pruner, interval: configuration.retention.interval, logger: logger)))
        services.append(.init(service: SessionTouchService(toucher: toucher, logger: logger)))
        if let feed {
            services.append(.init(service: SharedChangeService(feed: feed, cache: sessionCache, directory: directory)))
        }
        services.append(.init(service: RPCService(server: rpcServer, state: servingState, logger: logger)))
        self.group = ServiceGroup(configuration: ServiceGroupConfiguration(services: services, logger: logger))
    }

    /// Buckets from 10 µs (a token check from memory) to 10 s (a drain), for every duration authd records.
    static let durationBuckets: [Duration] = [
        .microseconds(10), .microseconds(25), .microseconds(50), .microseconds(100), .microseconds(250), .microseconds(500),
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        return factory
    }

    /// Ready: not draining, and the database answers a read and takes the write lock.
    private static func readiness(storage: any ServedStorage, state: ServingState) -> [ReadinessProbe] {
        [
            ReadinessProbe(name: "serving") { state.isDraining ? "draining: finishing calls in flight, taking no new ones" : nil },
            ReadinessProbe(name: "database") {
                // Draining decides already; no probe joins the writes queued for the drain.
                guard !state.isDraining else { return "not checked while draining" }
                do throws(AuthError) {
                    try await storage.probe()
                    return nil
                } catch {
                    return error.message
                }
            },
        ]
    }

    /// The key's id names the caller in the call's log lines (`by-key`).
    private static func requireKey(_ scope: KeyScope, _ keys: APIKeys) -> ServiceAccess {
        .guarded { context throws(RPCError) in
            do throws(AuthError) {
                return "\(try await keys.authorize(context.metadata[MetadataKey.authorization], for: scope).id)"
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
            guard let first = try await keys.storeFirst(name: "first admin", scope: .admin, secret: secret) else {
                // Another instance on the shared database stored the first key between the
                // check above and this insert. Sharing this file's path, it may have stored
                // this very secret (it read the file this process had just written): then
                // the file is the way in and stays.
                if try await keys.isStored(secret: secret) {
                    logger.notice("first admin key created by another instance, from the secret in this key file", metadata: ["file": "\(path)"])
                    return path
                }
                if !adopted { SecretFile.remove(path) }
                logger.notice(
                    "first admin key already created by another instance; no key file written here",
                    metadata: adopted ? ["file": "\(path)", "note": "the file there holds no key of this database"] : [:])
                return nil
            }
            key = first
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

    /// The management port once it listens; nil when it is off (or failed to bind).
    public func managementPort() async -> Int? {
        await management?.localPort()
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
            try? storage.closeStorage()
            throw error
        }
        await hasher.shutdown()
        try storage.closeStorage()
        logger.info("stopped: calls finished, database closed")
    }

    /// What SIGTERM does; for callers (tests) that run the server without a signal.
    public func beginGracefulShutdown() async {
        await group.triggerGracefulShutdown()
    }
}
