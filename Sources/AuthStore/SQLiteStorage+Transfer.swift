public import AuthCore
internal import Foundation
internal import GRDB

/// `authd migrate-store` on SQLite: tables read in pages by their key, rows written back
/// with their ids, in one write transaction per page.
extension SQLiteStorage: StoreTransfer {
    public func columns(of table: StoredTable) async throws(AuthError) -> [String] {
        try await read("read columns of \(table)") { db in
            try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [table.name])
        }
    }

    public func exportRows(
        of table: StoredTable, columns: [String], after: [StoredValue]?, limit: Int
    ) async throws(AuthError) -> [[StoredValue]] {
        let key = Self.quoted(table.key)
        var sql = "SELECT \(Self.quoted(columns)) FROM \(Self.quoted([table.name]))"
        var arguments = StatementArguments()
        if let after {
            sql += " WHERE (\(key)) > (\(Array(repeating: "?", count: after.count).joined(separator: ", ")))"
            arguments += StatementArguments(after.map(Self.databaseValue))
        }
        sql += " ORDER BY \(key) LIMIT ?"
        arguments += [limit]
        return try await read("export \(table)") { [sql, arguments] db in
            try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                try (0..<row.count).map { index throws(AuthError) in try Self.storedValue(row[index] as DatabaseValue, table) }
            }
        }
    }

    public func importRows(into table: StoredTable, columns: [String], rows: [[StoredValue]]) async throws(AuthError) {
        let sql = """
            INSERT INTO \(Self.quoted([table.name])) (\(Self.quoted(columns)))
            VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))
            """
        try await write("import \(table)") { db in
            let statement = try db.cachedStatement(sql: sql)
            for row in rows {
                try statement.execute(arguments: StatementArguments(row.map(Self.databaseValue)))
            }
        }
    }

    /// Nothing to do: an `INTEGER PRIMARY KEY` continues after the highest id there is.
    public func finishImport() async throws(AuthError) {}

    public func rowCount(of table: StoredTable) async throws(AuthError) -> Int {
        try await read("count \(table)") { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM \(Self.quoted([table.name]))") ?? 0
        }
    }

    /// Names as SQL identifiers, comma-separated: double-quoted, a quote inside doubled.
    static func quoted(_ names: [String]) -> String {
        names.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ", ")
    }

    /// `PRAGMA data_version` on the writer connection, which only the commits of other
    /// connections (other processes: this one writes nothing to a source) move.
    public func writeFence() async throws(AuthError) -> WriteFence {
        do {
            let version = try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
            return WriteFence(commits: "data_version \(version)", otherConnections: nil)
        } catch {
            throw Self.mapped(error, operation: "read data_version")
        }
    }

    static func databaseValue(_ value: StoredValue) -> DatabaseValue {
        switch value {
        case .null: .null
        case .integer(let number): number.databaseValue
        case .text(let text): text.databaseValue
        case .bytes(let bytes): Data(bytes).databaseValue
        }
    }

    static func storedValue(_ value: DatabaseValue, _ table: StoredTable) throws(AuthError) -> StoredValue {
        switch value.storage {
        case .null: .null
        case .int64(let number): .integer(number)
        case .string(let text): .text(text)
        case .blob(let data): .bytes(Array(data))
        case .double(let number): throw .storage("\(table) holds a real number (\(number)), which no authd column has")
        }
    }
}
