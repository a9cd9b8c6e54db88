internal import AuthCore
internal import Logging
internal import NIOCore
internal import PostgresNIO

/// One pooled connection, inside the transaction (or the single statement) a storage method
/// runs: the few shapes of query the roles use. Values are bound through `PostgresQuery`'s
/// interpolation (`"... WHERE id = \(id)"` becomes `$1`), never spliced into the SQL.
struct StoreConnection {
    let connection: PostgresConnection
    let logger: Logger

    /// Runs a statement and drops any rows.
    func run(_ query: PostgresQuery) async throws {
        try await connection.query(query, logger: logger)
    }

    /// Every row of `query`.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        try await connection.query(query, logger: logger).collect()
    }

    /// The first row of a prepared statement (prepared on this connection at its first use).
    func first<Statement: PostgresPreparedStatement>(_ statement: Statement) async throws -> Statement.Row? {
        var found: Statement.Row?
        for try await row in try await connection.execute(statement, logger: logger) where found == nil {
            found = row
        }
        return found
    }

    /// The first row, or nil when there is none.
    func row(_ query: PostgresQuery) async throws -> PostgresRow? {
        try await rows(query).first
    }

    /// The first column of the first row; nil for no row or NULL.
    func value<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> T? where T._DecodableType == T {
        guard let row = try await row(query) else { return nil }
        return try row.decode(T?.self)
    }

    /// The first column of every row.
    func values<T: PostgresDecodable>(_ type: T.Type, _ query: PostgresQuery) async throws -> [T] {
        try await rows(query).map { try $0.decode(T.self) }
    }

    /// How many rows `query` returned: a write says what it changed with `RETURNING 1`.
    func count(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }
}

// Domain values are bound by their raw form (an epoch millisecond, a UUID's text, an enum's
// raw value), so that no retroactive conformance of AuthCore's types is needed here.

extension Array where Element == UInt8 {
    /// A hash or other bytes, bound as BYTEA.
    var bytea: ByteBuffer { ByteBuffer(bytes: self) }
}

extension ByteBuffer {
    /// A BYTEA column read back.
    var bytes: [UInt8] { Array(readableBytesView) }
}
