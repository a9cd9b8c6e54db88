/// A column's value as both stores hold it: what `authd migrate-store` carries from one
/// store to the other. A boolean is an integer 0 or 1 here (SQLite's form).
public enum StoredValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case bytes([UInt8])
}

/// A table both stores have, with the columns that order its rows (its primary key), so
/// that it can be read in pages that resume after the last row seen.
public struct StoredTable: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let key: [String]

    public var description: String { name }

    /// Every table of the schema, parents before the tables that refer to them. The
    /// stores' own bookkeeping (their migration tables) is not in it: each store's
    /// migrations bring a destination to the current schema before the copy.
    public static let all: [StoredTable] = [
        StoredTable(name: "users", key: ["id"]),
        StoredTable(name: "user_attributes", key: ["user_id", "name"]),
        StoredTable(name: "roles", key: ["id"]),
        StoredTable(name: "user_roles", key: ["user_id", "role_id"]),
        StoredTable(name: "groups", key: ["id"]),
        StoredTable(name: "group_roles", key: ["group_id", "role_id"]),
        StoredTable(name: "sessions", key: ["id"]),
        StoredTable(name: "one_time_codes", key: ["id"]),
        StoredTable(name: "decoy_one_time_codes", key: ["id"]),
        StoredTable(name: "decoy_outbox", key: ["id"]),
        StoredTable(name: "page_rules", key: ["pattern"]),
        StoredTable(name: "page_rule_groups", key: ["pattern", "group_id"]),
        StoredTable(name: "settings", key: ["key"]),
        StoredTable(name: "email_templates", key: ["kind"]),
        StoredTable(name: "outbox", key: ["id"]),
        StoredTable(name: "api_keys", key: ["id"]),
        StoredTable(name: "throttles", key: ["key"]),
    ]
}

/// How a store is opened: `.migrate` brings its schema to this build's (what serving
/// does); `.requireCurrent` changes nothing and refuses a schema that is not exactly this
/// build's (the source of a copy, which must stay as it was).
public enum SchemaUse: Sendable {
    case migrate
    case requireCurrent
}

extension AuthError {
    /// A `.requireCurrent` open's refusal: the migrations `applied` are not this build's `known` ones.
    public static func schemaNotCurrent(applied: [String], known: [String]) -> AuthError {
        AuthError(.failedPrecondition, """
            the database's schema is not this authd's (it has \(applied.isEmpty ? "none" : applied.sorted().joined(separator: ", ")); \
            this build's is \(known.joined(separator: ", "))): serve it once with this authd, which upgrades it, \
            or use the authd that wrote it
            """)
    }
}

/// What a store shows of other processes, read before and after a copy: `commits`
/// changes when another process commits to it; `otherConnections`, where the store can
/// tell, counts the sessions of other processes.
public struct WriteFence: Sendable, Equatable {
    public var commits: String
    public var otherConnections: Int?

    public init(commits: String, otherConnections: Int?) {
        self.commits = commits
        self.otherConnections = otherConnections
    }
}

/// Whole tables out of one store and into another, rows as they are (ids, hashes and
/// timestamps included): what `authd migrate-store` is made of. Each store maps
/// `StoredValue` to its own column types.
public protocol StoreTransfer: Sendable {
    /// The table's column names, in the store's order.
    func columns(of table: StoredTable) async throws(AuthError) -> [String]

    /// Up to `limit` rows of `columns`, in key order, after the row whose key is `after`
    /// (from the start when nil). Each row's values are in `columns`' order.
    func exportRows(
        of table: StoredTable, columns: [String], after: [StoredValue]?, limit: Int
    ) async throws(AuthError) -> [[StoredValue]]

    /// Inserts the rows as they are (a store may split them in several statements).
    func importRows(into table: StoredTable, columns: [String], rows: [[StoredValue]]) async throws(AuthError)

    /// After the last import: what the store needs so that new rows follow the copied
    /// ones (PostgreSQL's identity columns continue after the highest id copied).
    func finishImport() async throws(AuthError)

    func rowCount(of table: StoredTable) async throws(AuthError) -> Int

    func writeFence() async throws(AuthError) -> WriteFence
}
