public import AuthCore
internal import Foundation
internal import NIOCore
internal import PostgresNIO

/// `authd migrate-store` on PostgreSQL: tables read in pages by their key, rows written
/// with their ids by multi-row INSERTs, one transaction per page; a boolean column takes
/// the integer 0 or 1 that SQLite holds.
extension PostgresStorage: StoreTransfer {
    public func columns(of table: StoredTable) async throws(AuthError) -> [String] {
        try await columnTypes(of: table).map(\.name)
    }

    /// Names and `information_schema` data types, in column order.
    private func columnTypes(of table: StoredTable) async throws(AuthError) -> [(name: String, type: String)] {
        try await readStatement("read columns of \(table)") { connection in
            try await connection.rows("""
                SELECT column_name, data_type FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = \(table.name)
                ORDER BY ordinal_position
                """).map { row in try row.decode((String, String).self) }
        }
    }

    public func exportRows(
        of table: StoredTable, columns: [String], after: [StoredValue]?, limit: Int
    ) async throws(AuthError) -> [[StoredValue]] {
        let key = Self.quoted(table.key)
        var sql = "SELECT \(Self.quoted(columns)) FROM \(Self.quoted([table.name]))"
        var binds = PostgresBindings()
        if let after {
            let placeholders = after.indices.map { "$\($0 + 1)" }.joined(separator: ", ")
            sql += " WHERE (\(key)) > (\(placeholders))"
            for value in after { Self.bind(value, asBoolean: false, to: &binds) }
        }
        sql += " ORDER BY \(key) LIMIT \(limit)"
        let query = PostgresQuery(unsafeSQL: sql, binds: binds)
        return try await read("export \(table)") { connection in
            try await connection.rows(query).map { row in
                try row.map { cell in try Self.storedValue(cell, table) }
            }
        }
    }

    /// One multi-row INSERT per chunk that stays within PostgreSQL's 65 535 parameters
    /// of one statement, all in one transaction.
    public func importRows(into table: StoredTable, columns: [String], rows: [[StoredValue]]) async throws(AuthError) {
        guard !rows.isEmpty, !columns.isEmpty else { return }
        let types = Dictionary(uniqueKeysWithValues: try await columnTypes(of: table).map { ($0.name, $0.type) })
        let booleans = columns.map { types[$0] == "boolean" }
        let rowsPerStatement = max(1, 60_000 / columns.count)
        var queries: [PostgresQuery] = []
        var start = rows.startIndex
        while start < rows.endIndex {
            let chunk = rows[start..<min(start + rowsPerStatement, rows.endIndex)]
            start = chunk.endIndex
            var binds = PostgresBindings(capacity: chunk.count * columns.count)
            var tuples: [String] = []
            tuples.reserveCapacity(chunk.count)
            for row in chunk {
                let first = binds.count
                tuples.append("(" + row.indices.map { "$\(first + $0 + 1)" }.joined(separator: ", ") + ")")
                for (value, isBoolean) in zip(row, booleans) { Self.bind(value, asBoolean: isBoolean, to: &binds) }
            }
            queries.append(PostgresQuery(unsafeSQL: """
                INSERT INTO \(Self.quoted([table.name])) (\(Self.quoted(columns))) VALUES \(tuples.joined(separator: ", "))
                """, binds: binds))
        }
        try await write("import \(table)") { [queries] connection in
            for query in queries { try await connection.run(query) }
        }
    }

    /// Every identity column of authd's tables continues after the highest id copied into it.
    public func finishImport() async throws(AuthError) {
        let names = StoredTable.all.map(\.name)
        try await write("finish import") { connection in
            let identities = try await connection.rows("""
                SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND is_identity = 'YES' AND table_name = ANY(\(names))
                """).map { row in try row.decode((String, String).self) }
            for (table, column) in identities {
                let (quotedTable, quotedColumn) = (Self.quoted([table]), Self.quoted([column]))
                var binds = PostgresBindings()
                binds.append(table)
                binds.append(column)
                try await connection.run(PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence(format('%I.%I', current_schema(), $1::text), $2),
                        coalesce((SELECT max(\(quotedColumn)) FROM \(quotedTable)), 1),
                        (SELECT max(\(quotedColumn)) FROM \(quotedTable)) IS NOT NULL)
                    """, binds: binds))
            }
        }
    }

    public func rowCount(of table: StoredTable) async throws(AuthError) -> Int {
        try await readStatement("count \(table)") { connection in
            Int(try await connection.value(Int64.self, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(Self.quoted([table.name]))")) ?? 0)
        }
    }

    /// The sessions of other processes on this database (this one's carry its
    /// `applicationName`); PostgreSQL has no per-database commit marker to read.
    public func writeFence() async throws(AuthError) -> WriteFence {
        let others = try await readStatement("count other sessions") { [applicationName] connection in
            try await connection.value(Int64.self, """
                SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND backend_type = 'client backend'
                  AND pid <> pg_backend_pid() AND application_name <> \(applicationName)
                """) ?? 0
        }
        return WriteFence(commits: "", otherConnections: Int(others))
    }

    /// Names as SQL identifiers, comma-separated: double-quoted, a quote inside doubled.
    static func quoted(_ names: [String]) -> String {
        names.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }.joined(separator: ", ")
    }

    static func bind(_ value: StoredValue, asBoolean: Bool, to binds: inout PostgresBindings) {
        switch value {
        case .null: binds.appendNull()
        case .integer(let number) where asBoolean: binds.append(number != 0)
        case .integer(let number): binds.append(number)
        case .text(let text): binds.append(text)
        case .bytes(let bytes): binds.append(ByteBuffer(bytes: bytes))
        }
    }

    static func storedValue(_ cell: PostgresCell, _ table: StoredTable) throws -> StoredValue {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .bool: return .integer(try cell.decode(Bool.self) ? 1 : 0)
        case .int2: return .integer(Int64(try cell.decode(Int16.self)))
        case .int4: return .integer(Int64(try cell.decode(Int32.self)))
        case .int8: return .integer(try cell.decode(Int64.self))
        case .text, .varchar: return .text(try cell.decode(String.self))
        case .bytea: return .bytes(Array(buffer: try cell.decode(ByteBuffer.self)))
        default: throw AuthError.storage("\(table).\(cell.columnName) has type \(cell.dataType), which the copy does not know")
        }
    }
}
