public import AuthCore
internal import AuthCrypto
public import CoreMetrics
public import Logging
internal import NIOCore
internal import PostgresNIO

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

    /// How many times a write is tried when PostgreSQL aborts it for a concurrent one.
    static let maximumWriteTries = 40

    /// Connects to the database `url` names (`postgres://user:password@host:port/db`,
    /// `?sslmode=` `disable`, `prefer` or `require`), and brings its schema up to date; an
    /// unreachable database is `.unavailable` with what failed.
    /// `metrics` times every transaction (`authd_db_transaction_duration_seconds`).
    public init(
        url: String,
        maximumConnections: Int = 20,
        logger: Logger = Logger(label: "authd.postgres"),
        metrics: (any MetricsFactory)? = nil
    ) async throws(AuthError) {
        let address = try PostgresAddress(url: url)
        location = address.description
        var configuration = address.clientConfiguration
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        timers = metrics.map(TransactionTimers.init(factory:))
        // Started at once, so that the pool runs before the first query asks it for a connection.
        runTask = Task.immediate { await client.run() }
        do {
            try await PostgresSchema.migrate(self)
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
        _ body: (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.read, since: started) }
        do {
            return try await client.withConnection { connection in
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
        _ body: (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.read, since: started) }
        do {
            return try await client.withConnection { connection in
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
        _ body: (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.write, since: started) }
        var tries = 0
        while true {
            tries += 1
            do {
                return try await client.withConnection { connection in
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
        _ body: (StoreConnection) async throws -> T
    ) async throws(AuthError) -> T {
        let ordered = Array(Set(keys)).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        return try await write(operation, isolation: "BEGIN ISOLATION LEVEL READ COMMITTED") { connection in
            for key in ordered {
                try await connection.run("SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0))")
            }
            return try await body(connection)
        }
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
