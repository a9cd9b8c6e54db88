public import AuthCore
internal import Foundation
internal import GRDB
internal import NIOPosix
public import CoreMetrics

/// Every storage role over one SQLite file: a GRDB `DatabasePool` in WAL
/// mode, so that token checks read concurrently while writes are serialised on one
/// connection. Each protocol method is one GRDB `read` or `write` (one transaction);
/// errors are mapped to `AuthError`.
public final class SQLiteStorage: Storage {
    /// The database file, for logs and for a second look at it (another process, a test).
    public let path: String
    let pool: DatabasePool
    /// Threads that run the hot read (the token check) with GRDB's blocking `read`: one
    /// hop there and back instead of the several of its async `read`, and never a blocked
    /// Swift concurrency thread.
    let hotReaders: NIOThreadPool
    /// Transaction durations by kind; nil records nothing and reads no clock.
    private let timers: TransactionTimers?

    /// How long a write waits for a lock held by another connection or process before
    /// failing with SQLITE_BUSY.
    public static let busyTimeout: Duration = .seconds(5)

    /// Opens the database at `path`, creating the file when missing, and brings its schema
    /// up to date (with `.requireCurrent`: refuses one that is not this build's, and
    /// writes nothing).
    /// `metrics` times every transaction (`authd_db_transaction_duration_seconds`).
    public init(path: String, schema: SchemaUse = .migrate, metrics: (any MetricsFactory)? = nil) throws(AuthError) {
        self.path = path
        timers = metrics.map(TransactionTimers.init(factory:))
        hotReaders = NIOThreadPool(numberOfThreads: 2)
        hotReaders.start()
        var configuration = Configuration()
        configuration.label = "authd"
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(TimeInterval(Self.busyTimeout.wholeMilliseconds) / 1000)
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            // GRDB sets NORMAL with WAL, which survives a crash of the process but may lose the
            // last commits to a power cut. FULL syncs the WAL at each commit: an acknowledged
            // write survives both. (Only the writer connection writes; the setting is its own.)
            try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            switch schema {
            case .migrate: try Schema.migrate(pool)
            case .requireCurrent: try Schema.requireCurrent(pool)
            }
            // The WAL and shared-memory files exist once the pool has written.
            try DatabaseFiles.restrictModes(of: path)
        } catch {
            hotReaders.shutdownGracefully { _ in }
            throw Self.mapped(error, operation: "open \(path)")
        }
    }

    deinit {
        hotReaders.shutdownGracefully { _ in }
    }

    /// Closes every connection. The storage must not be used afterwards; deinit closes too.
    public func close() throws(AuthError) {
        do {
            try pool.close()
        } catch {
            throw Self.mapped(error, operation: "close")
        }
    }

    // MARK: Transactions with typed errors

    /// One read transaction (a consistent snapshot), on one of the pool's reader connections.
    func read<T: Sendable>(
        _ operation: String,
        _ body: @Sendable (Database) throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.read, since: started) }
        do {
            return try await pool.read(body)
        } catch {
            throw Self.mapped(error, operation: operation)
        }
    }

    /// Like `read`, on `hotReaders` with GRDB's blocking read: for the token check.
    func hotRead<T: Sendable>(
        _ operation: String,
        _ body: @escaping @Sendable (Database) throws -> T
    ) async throws(AuthError) -> T {
        let pool = self.pool
        let started = timers?.now()
        defer { timers?.record(.tokenRead, since: started) }
        do {
            return try await hotReaders.runIfActive { try pool.read(body) }
        } catch {
            throw Self.mapped(error, operation: operation)
        }
    }

    /// One IMMEDIATE write transaction; rolled back when `body` throws. `email` is the
    /// address the transaction may write, named in the error when it is already taken.
    func write<T: Sendable>(
        _ operation: String,
        email: String? = nil,
        _ body: @Sendable (Database) throws -> T
    ) async throws(AuthError) -> T {
        let started = timers?.now()
        defer { timers?.record(.write, since: started) }
        do {
            return try await pool.write(body)
        } catch {
            throw Self.mapped(error, operation: operation, email: email)
        }
    }

    /// For readiness probes: a read transaction, then a write lock taken and given back
    /// (BEGIN IMMEDIATE; ROLLBACK), so that a locked or read-only database is noticed
    /// without writing anything.
    public func probe() async throws(AuthError) {
        _ = try await read("readiness read") { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_schema") }
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: "BEGIN IMMEDIATE")
                try db.execute(sql: "ROLLBACK")
            }
        } catch {
            throw Self.mapped(error, operation: "readiness write")
        }
    }

    static func mapped(_ error: any Error, operation: String, email: String? = nil) -> AuthError {
        switch error {
        case let error as AuthError:
            return error
        case let error as DatabaseError:
            if error.extendedResultCode == .SQLITE_CONSTRAINT_UNIQUE,
               error.message?.contains("users.email") == true {
                let address = email.map { " \($0)" } ?? ""
                return AuthError(.alreadyExists, "email\(address) is already taken", field: "email")
            }
            let message = error.message ?? "\(error.extendedResultCode)"
            return .storage("\(operation): \(message) (SQLite code \(error.extendedResultCode.rawValue))")
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
