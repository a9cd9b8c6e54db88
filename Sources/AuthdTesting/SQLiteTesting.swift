public import AuthCore
public import AuthStore
internal import Foundation
internal import GRDB

/// Runs `body` with the path of a database file (not yet created) in a fresh temporary
/// directory, and removes the directory afterwards, also when `body` throws.
public func withDatabasePath<T>(_ body: (String) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory("authstore-tests")
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory.appendingPathComponent("authd.sqlite").path)
}

/// Runs `body` with a `SQLiteStorage` over a fresh file and a probe of the same file; closes
/// both and removes the file afterwards, also when `body` throws.
public func withSQLiteStorage<T>(_ body: (SQLiteStorage, SQLiteProbe) async throws -> T) async throws -> T {
    try await withDatabasePath { path in
        let store = try SQLiteStorage(path: path)
        defer { try? store.close() }
        let probe = try SQLiteProbe(path: path)
        defer { probe.close() }
        return try await body(store, probe)
    }
}

/// A new directory under the temporary directory, named `prefix-<uuid>`.
func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// A second connection to a store's file, as another process would have: tests read rows
/// that no storage role returns and reach states no role offers (a user deleted behind the
/// server's back). Its SQL is plain enough for any SQL store.
public final class SQLiteProbe: StorageProbe {
    private let queue: DatabaseQueue

    public init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    public func close() {
        try? queue.close()
    }

    public func execute(_ sql: String, arguments: [String]) async throws {
        try await queue.write { db in try db.execute(sql: sql, arguments: StatementArguments(arguments)) }
    }

    public func integer(_ sql: String) async throws -> Int64? {
        try await queue.read { db in try Int64.fetchOne(db, sql: sql) }
    }

    public func texts(_ sql: String) async throws -> [String] {
        try await queue.read { db in try String.fetchAll(db, sql: sql) }
    }

    public func outboxMessages(recipient: String?) async throws -> [OutboxRecord] {
        try await queue.read { db in
            let rows = if let recipient {
                try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE recipient = ? ORDER BY id", arguments: [recipient])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM outbox ORDER BY id")
            }
            return try rows.map { row in
                OutboxRecord(
                    id: try row.decode(forColumn: "id"),
                    message: try NewOutboxMessage(row: row),
                    state: try row.decode(forColumn: "state"),
                    attempts: try row.decode(forColumn: "attempts"))
            }
        }
    }

    /// The details of SQLite's query plan for `sql` (parameters left unbound).
    public func queryPlan(_ sql: String) async throws -> [String] {
        try await queue.read { db in
            let statement = try db.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
            statement.setUncheckedArguments([])
            return try Row.fetchAll(statement).map { $0["detail"] as String }
        }
    }
}
