public import AuthCore
internal import AuthCrypto
public import CoreMetrics
public import Logging
internal import NIOCore
internal import PostgresNIO
internal import Synchronization

/// Every storage role over one PostgreSQL database, so that several authd processes can
/// serve one user base. A postgres-nio `PostgresClient` pools the connections.
///
/// Isolation (docs/decisions.md, "The PostgreSQL store"): every write method is one
/// SERIALIZABLE transaction, retried when PostgreSQL reports a serialization failure or a
/// deadlock, so that each method means what it means on SQLite, whose single writer
/// serialises every write; reads are single statements (one snapshot each) or REPEATABLE
/// READ, READ ONLY transactions.
public final class PostgresStorage: Storage, Sendable {
    /// Where the database is, without the password: for logs.
    public let location: String
    let client: PostgresClient
    let logger: Logger
    /// Names this process's announcements (`SharedChangeFeed`), so that it skips its own.
    let instanceID = Base64URL.encode(SecureRandom.bytes(12))
    private let runTask: Task<Void, Never>
    private let timers: TransactionTimers?
    /// How long a call waits for a pooled connection before it answers UNAVAILABLE while
    /// none of this process's calls holds one (the database is away). With the database
    /// gone the pool keeps reconnecting in the background (that is how authd comes back
    /// by itself); a caller should hear so at once rather than wait with it.
    let connectionWait: Duration
    /// While other calls hold every connection (the database is there, and busy), a call
    /// waits its turn up to this long.
    static let busyWait: Duration = .seconds(60)
    /// Connections this process's calls hold right now.
    private let connectionsInUse = Atomic<Int>(0)
    /// This process's connections' `application_name`.
    let applicationName: String

    /// How many times a write is tried when PostgreSQL aborts it for a concurrent one.
    static let maximumWriteTries = 40

    /// Connects to the database `url` names (`postgres://user:password@host:port/db`,
    /// `?sslmode=` `disable`, `prefer` or `require`), and brings its schema up to date; an
    /// unreachable database (or one that refuses the login) is `.unavailable` with what
    /// failed. Later, while the database is away, calls fail `.unavailable` after
    /// `connectionWait` and the pool reconnects by itself.
    /// `metrics` times every transaction (`authd_db_transaction_duration_seconds`).
    public init(
        url: String,
        schema: SchemaUse = .migrate,
        maximumConnections: Int = 20,
        connectTimeout: Duration = .seconds(5),
        connectionWait: Duration = .seconds(5),
        applicationName: String = "authd",
        logger: Logger = Logger(label: "authd.postgres"),
        metrics: (any MetricsFactory)? = nil
    ) async throws(AuthError) {
        let address = try PostgresAddress(url: url)
        location = address.description
        // One connection first, so that an unreachable server or a refused login stops the
        // start with its cause; the pool alone would retry without saying why.
        try await address.checkConnection(timeout: connectTimeout, logger: logger)
        var configuration = address.clientConfiguration()
        // Shown in pg_stat_activity, for the operator and for `writeFence()`.
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        self.applicationName = applicationName
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = connectTimeout
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.connectionWait = connectionWait
        timers = metrics.map(TransactionTimers.init(factory:))
        // Started at once, so that the pool runs before the first query asks it for a connection.
        runTask = Task.immediate { await client.run() }
        do throws(AuthError) {
            switch schema {
            case .migrate: try await PostgresSchema.migrate(self)
            case .requireCurrent: try await PostgresSchema.requireCurrent(self)
            }
        } catch {
            runTask.cancel()
            throw error
        }
    }

    /// What is wrong with `url` as a `store` (nil when nothing): the check a configuration
    /// makes before any connection is tried.
    public static func problem(withURL url: String) -> String? {
        do throws(AuthError) {
            _ = try PostgresAddress(url: url)
            return nil
        } catch {
            return error.message
        }
    }

    /// `url` with its password replaced by `***`: for messages.
    public static func redacted(_ url: String) -> String {
        PostgresAddress.redacted(url)
    }

    deinit {
        runTask.cancel()
    }

    /// Closes every connection; the storage must not be used afterwards.
    public func close() {
        runTask.cancel()
    }

    /// For readiness probes: a read, then a write transaction that writes nothing.
    public func probe() async throws(AuthError) {
        _ = try await read("readiness read") { connection in
            try await connection.value(Int.self, "SELECT 1")
        }
        try await write("readiness write") { connection in
            try await connection.run("SELECT 1")
        }
    }

    // MARK: Transactions with typed errors

    /// One read-only transaction: a consistent snapshot across its statements.
    func read<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.read, since: started) }
        do {
            return try await withPooledConnection(operation) { [logger] connection in
                try await Self.inTransaction(connection, begin: "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger, body)
            }
        } catch {
            throw Self.mapped(error, operation: operation)
        }
    }

    /// One statement outside a transaction (it is its own snapshot): the token check and
    /// other single-statement reads, one round trip each.
    func readStatement<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.read, since: started) }
        do {
            return try await withPooledConnection(operation) { [logger] connection in
                try await body(StoreConnection(connection: connection, logger: logger))
            }
        } catch {
            throw Self.mapped(error, operation: operation)
        }
    }

    /// One SERIALIZABLE write transaction, rolled back when `body` throws and tried again
    /// (from the start) when PostgreSQL aborts it for a concurrent transaction. `email` is
    /// the address the transaction may write, named in the error when it is taken.
    func write<T: Sendable>(
        _ operation: String,
        email: String? = nil,
        isolation begin: PostgresQuery = "BEGIN ISOLATION LEVEL SERIALIZABLE",
        _ body: @escaping @Sendable (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.write, since: started) }
        var tries = 0
        while true {
            tries += 1
            do {
                return try await withPooledConnection(operation) { [logger] connection in
                    try await Self.inTransaction(connection, begin: begin, logger: logger, body)
                }
            } catch let error as PSQLError where Self.isRetryable(error) && tries < Self.maximumWriteTries {
                // Back off a little, more each time, with jitter: the transactions that
                // collided should not collide again.
                let ceiling = UInt64(1 << min(tries, 5))
                try? await Task.sleep(nanoseconds: UInt64.random(in: 0...ceiling) * 500_000)
                continue
            } catch {
                throw Self.mapped(error, operation: operation, email: email)
            }
        }
    }

    /// One READ COMMITTED write transaction that first takes an advisory lock per key (in
    /// byte order, so two such transactions never deadlock): for rows that many calls
    /// change at once (a throttle counter under a flood), where SERIALIZABLE would abort
    /// all but one per round and retry them. Each statement after the locks sees every
    /// write committed before it, so a body that only touches rows of its keys is as
    /// correct as under SERIALIZABLE, and contention means waiting. Every writer of those
    /// rows must go through here with the same keys.
    func lockedWrite<T: Sendable>(
        _ operation: String,
        locking keys: [String],
        _ body: @escaping @Sendable (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let ordered = Array(Set(keys)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return try await write(operation, isolation: "BEGIN ISOLATION LEVEL READ COMMITTED") { connection in
            for key in ordered {
                try await connection.run("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
            }
            return try await body(connection)
        }
    }

    /// A pooled connection for `body`, or `.unavailable` when none comes within
    /// `connectionWait` while no call of this process holds one (the database is away),
    /// within `busyWait` while others hold them all, or when the pool gives up on its own
    /// (postgres-nio fails every wait once it has not connected for a minute). Once `body`
    /// has its connection it runs to its end, however long it takes and whether or not
    /// the call is cancelled meanwhile, unless the connection closes under it
    /// (`untilConnectionCloses`).
    func withPooledConnection<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let wait = ConnectionWait()
        let (client, limit) = (client, connectionWait)
        return try await withThrowingTaskGroup(of: ConnectionWait.Outcome<T>.self) { group in
            group.addTask {
                do {
                    return try await client.withConnection { connection in
                        // The timer won: hand the connection back unused.
                        guard wait.connect() else { return .timedOut }
                        self.connectionsInUse.add(1, ordering: .relaxed)
                        defer { self.connectionsInUse.subtract(1, ordering: .relaxed) }
                        return .done(try await Self.untilConnectionCloses(connection, operation, body))
                    }
                } catch {
                    guard wait.connected else {
                        // No connection was handed over: whatever the pool says, the
                        // database is not there for this call.
                        throw AuthError(.unavailable, "\(operation): the database is unavailable: no connection (\(error))")
                    }
                    throw error
                }
            }
            group.addTask {
                let clock = ContinuousClock()
                let started = clock.now
                while true {
                    // Cancelled (the call ended, or the connection came): nothing to report.
                    do { try await Task.sleep(for: limit) } catch { return .timedOut }
                    let busy = self.connectionsInUse.load(ordering: .relaxed) > 0
                    if busy && clock.now - started < Self.busyWait { continue }
                    guard wait.giveUp() else { return .timedOut }
                    throw AuthError(
                        .unavailable,
                        busy
                            ? "\(operation): the database is busy: every connection taken for \(Self.busyWait)"
                            : "\(operation): the database is unavailable: no connection within \(limit)")
                }
            }
            while let next = try await group.next() {
                if case .done(let value) = next {
                    group.cancelAll()
                    return value
                }
            }
            throw CancellationError()
        }
    }

    /// How often a running call looks whether its connection closed, and how long after
    /// the close it still waits for its statement to fail by itself.
    static let closeCheckInterval: Duration = .milliseconds(200)
    static let closedGrace: Duration = .seconds(1)

    /// Runs `body` on `connection` in a task of its own and answers with its outcome, or
    /// `.unavailable` once the connection has been closed for `closedGrace` with `body`
    /// still waiting. postgres-nio (1.33) loses a statement written to a connection that
    /// closed a moment before (the server ended it, and the pool leased it before it
    /// heard): the statement's promise never completes, and a call awaiting it would hang
    /// for ever with its lease. The abandoned task then waits on alone; it holds no lease.
    static func untilConnectionCloses<T: Sendable>(
        _ connection: PostgresConnection,
        _ operation: String,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let outcome = FirstOutcome<T>()
        Task {
            do {
                outcome.finish(.success(try await body(connection)))
            } catch {
                outcome.finish(.failure(error))
            }
        }
        let watch = Task {
            while (try? await Task.sleep(for: closeCheckInterval)) != nil {
                guard connection.isClosed else { continue }
                guard (try? await Task.sleep(for: closedGrace)) != nil else { return }
                outcome.finish(.failure(AuthError(
                    .unavailable, "\(operation): the database is unavailable: its connection closed during the call")))
                return
            }
        }
        defer { watch.cancel() }
        return try await outcome.value
    }

    nonisolated(nonsending) private static func inTransaction<T: Sendable>(
        _ connection: PostgresConnection,
        begin: PostgresQuery,
        logger: Logger,
        _ body: (StoreConnection) async throws -> T
    ) async throws -> T {
        try await connection.query(begin, logger: logger)
        let value: T
        do {
            value = try await body(StoreConnection(connection: connection, logger: logger))
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
        try await connection.query("COMMIT", logger: logger)
        return value
    }

    /// 40001 serialization_failure, 40P01 deadlock_detected.
    static func isRetryable(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    static func mapped(_ error: any Error, operation: String, email: String? = nil) -> AuthError {
        switch error {
        case let error as AuthError:
            return error
        case let error as PSQLError:
            switch error.code {
            case .server:
                let state = error.serverInfo?[.sqlState] ?? "?"
                let message = error.serverInfo?[.message] ?? "\(error.code)"
                if state == "23505", error.serverInfo?[.constraintName] == "users_email_key" {
                    let address = email.map { " \($0)" } ?? ""
                    return AuthError(.alreadyExists, "email\(address) is already taken", field: "email")
                }
                // 08: connection exceptions; 57P: the server shutting down or restarting.
                if state.hasPrefix("08") || state.hasPrefix("57P") {
                    return AuthError(.unavailable, "\(operation): the database is unavailable: \(message) (SQLSTATE \(state))")
                }
                // A write reached a read-only server, a standby while a failover has not
                // yet moved the address to the new primary: 25006 for a READ COMMITTED
                // write, 0A000 ("cannot use serializable mode in a hot standby") at a
                // SERIALIZABLE one's BEGIN.
                if state == "25006" || (state == "0A000" && message.contains("hot standby")) {
                    return AuthError(.unavailable, "\(operation): the database is read-only (a standby?): \(message) (SQLSTATE \(state))")
                }
                return .storage("\(operation): \(message) (SQLSTATE \(state))")
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown,
                 .sslUnsupported, .failedToAddSSLHandler:
                let cause = error.underlying.map { ": \($0)" } ?? ""
                return AuthError(.unavailable, "\(operation): the database is unavailable (\(error.code)\(cause))")
            default:
                return .storage("\(operation): \(error.code)")
            }
        case is CancellationError:
            return .storage("\(operation): cancelled")
        default:
            return .storage("\(operation): \(error)")
        }
    }

    static func notFound(_ userID: UserID) -> AuthError {
        AuthError(.notFound, "user \(userID) not found")
    }
}

/// Which came first for one call: its connection, or the end of its wait.
/// The first of several outcomes of one call, for one waiter.
private final class FirstOutcome<T: Sendable>: Sendable {
    private enum State {
        case pending
        case waiting(CheckedContinuation<T, any Error>)
        case finished(Result<T, any Error>)
    }
    private let state = Mutex<State>(.pending)

    /// Settles the outcome; later calls are ignored.
    func finish(_ result: Result<T, any Error>) {
        let waiter: CheckedContinuation<T, any Error>? = state.withLock { state in
            switch state {
            case .pending:
                state = .finished(result)
                return nil
            case .waiting(let continuation):
                state = .finished(result)
                return continuation
            case .finished:
                return nil
            }
        }
        waiter?.resume(with: result)
    }

    var value: T {
        get async throws {
            try await withCheckedThrowingContinuation { continuation in
                let settled: Result<T, any Error>? = state.withLock { state in
                    guard case .finished(let result) = state else {
                        state = .waiting(continuation)
                        return nil
                    }
                    return result
                }
                if let settled { continuation.resume(with: settled) }
            }
        }
    }
}

private final class ConnectionWait: Sendable {
    private let state = Atomic<UInt8>(0)  // 0 waiting, 1 connected, 2 gave up

    /// True when the connection came first; the call then runs.
    func connect() -> Bool {
        state.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged
    }

    /// True when the wait ended first; the call then fails.
    func giveUp() -> Bool {
        state.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged
    }

    var connected: Bool {
        state.load(ordering: .acquiring) == 1
    }

    enum Outcome<T: Sendable>: Sendable {
        case done(T)
        /// This child has nothing to report: the other one decides.
        case timedOut
    }
}
