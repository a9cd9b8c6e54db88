public import AuthCore
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
        let key = StoredTable.quoted(table.key)
        var sql = "SELECT \(StoredTable.quoted(columns)) FROM \(StoredTable.quoted([table.name]))"
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

    public func importRows(into table: StoredTable, columns: [String], rows: [[StoredValue]]) async throws(AuthError) {
        guard !rows.isEmpty else { return }
        let types = Dictionary(uniqueKeysWithValues: try await columnTypes(of: table).map { ($0.name, $0.type) })
        let booleans = columns.map { types[$0] == "boolean" }
        var binds = PostgresBindings(capacity: rows.count * columns.count)
        var tuples: [String] = []
        tuples.reserveCapacity(rows.count)
        for row in rows {
            let first = binds.count
            tuples.append("(" + row.indices.map { "$\(first + $0 + 1)" }.joined(separator: ", ") + ")")
            for (value, isBoolean) in zip(row, booleans) { Self.bind(value, asBoolean: isBoolean, to: &binds) }
        }
        let query = PostgresQuery(unsafeSQL: """
            INSERT INTO \(StoredTable.quoted([table.name])) (\(StoredTable.quoted(columns))) VALUES \(tuples.joined(separator: ", "))
            """, binds: binds)
        try await write("import \(table)") { connection in
            try await connection.run(query)
        }
    }

    /// Every identity column continues after the highest id copied into it.
    public func finishImport() async throws(AuthError) {
        try await write("finish import") { connection in
            let identities = try await connection.rows("""
                SELECT table_name, column_name FROM information_schema.columns
                WHERE table_schema = current_schema() AND is_identity = 'YES'
                """).map { row in try row.decode((String, String).self) }
            for (table, column) in identities {
                let (quotedTable, quotedColumn) = (StoredTable.quoted([table]), StoredTable.quoted([column]))
                try await connection.run(PostgresQuery(unsafeSQL: """
                    SELECT setval(pg_get_serial_sequence('\(quotedTable)', '\(column)'),
                        coalesce((SELECT max(\(quotedColumn)) FROM \(quotedTable)), 1),
                        (SELECT max(\(quotedColumn)) FROM \(quotedTable)) IS NOT NULL)
                    """))
            }
        }
    }

    public func rowCount(of table: StoredTable) async throws(AuthError) -> Int {
        try await readStatement("count \(table)") { connection in
            Int(try await connection.value(Int64.self, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(StoredTable.quoted([table.name]))")) ?? 0)
        }
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
