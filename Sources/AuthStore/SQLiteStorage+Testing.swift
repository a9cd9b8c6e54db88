internal import GRDB

// Internal, for `@testable import AuthStore`: tests reach states the protocol has no call
// for (a blocked or deleted user) and look at the schema, without depending on GRDB.
extension SQLiteStorage {
    func executeForTesting(_ sql: String) async throws {
        try await pool.write { db in try db.execute(sql: sql) }
    }

    /// On a reader connection, or on the writer when `onWriter` (whose settings differ).
    func integerForTesting(_ sql: String, onWriter: Bool = false) async throws -> Int64? {
        if onWriter {
            return try await pool.write { db in try Int64.fetchOne(db, sql: sql) }
        }
        return try await pool.read { db in try Int64.fetchOne(db, sql: sql) }
    }

    func textForTesting(_ sql: String) async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: sql) }
    }
}

extension SQLiteStorage {
    /// The details of SQLite's query plan for `sql` (parameters left unbound).
    func queryPlanForTesting(_ sql: String) async throws -> [String] {
        try await pool.read { db in
            let statement = try db.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
            statement.setUncheckedArguments([])
            return try Row.fetchAll(statement).map { $0["detail"] as String }
        }
    }
}
