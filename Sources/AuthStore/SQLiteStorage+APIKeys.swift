public import AuthCore
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    /// A taken id is `.alreadyExists` (field "id").
    public func insertAPIKey(_ key: NewAPIKey) async throws(AuthError) {
        try await write("insert api key") { db in
            let exists = try db.cachedStatement(sql: "SELECT 1 FROM api_keys WHERE id = ?")
            guard try Bool.fetchOne(exists, arguments: [key.id]) == nil else {
                throw AuthError(.alreadyExists, "api key \(key.id) already exists", field: "id")
            }
            try db.cachedStatement(sql: """
                INSERT INTO api_keys (id, name, scope, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [
                    key.id, key.name, key.scope, Data(key.secretHash), key.createdAt,
                ])
        }
    }

    /// The write transaction holds SQLite's one write lock, so the count cannot change
    /// between the two statements.
    public func insertFirstAPIKey(_ key: NewAPIKey) async throws(AuthError) -> Bool {
        try await write("insert first api key") { db in
            guard try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM api_keys")) == 0 else { return false }
            try db.cachedStatement(sql: """
                INSERT INTO api_keys (id, name, scope, secret_hash, created_at) VALUES (?, ?, ?, ?, ?)
                """).execute(arguments: [
                    key.id, key.name, key.scope, Data(key.secretHash), key.createdAt,
                ])
            return true
        }
    }

    /// On every Admin and Mail call: one lookup on the unique index of `secret_hash`.
    public func apiKey(secretHash: [UInt8]) async throws(AuthError) -> APIKey? {
        try await read("read api key") { db in
            try APIKey.fetchOne(db.cachedStatement(sql: Queries.apiKey), arguments: [Data(secretHash)])
        }
    }

    /// Never moves `lastUsedAt` backwards, and leaves a revoked or unknown key alone.
    public func touchAPIKey(id: String, at now: Timestamp) async throws(AuthError) {
        try await write("touch api key") { db in
            try db.cachedStatement(sql: """
                UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, :now), :now)
                WHERE id = :id AND revoked_at IS NULL
                """).execute(arguments: ["now": now, "id": id])
        }
    }

    public func apiKeys() async throws(AuthError) -> [APIKey] {
        try await read("read api keys") { db in
            try APIKey.fetchAll(db.cachedStatement(sql: """
                SELECT \(Queries.apiKeyColumns) FROM api_keys ORDER BY created_at, rowid
                """))
        }
    }

    public func revokeAPIKey(id: String, at now: Timestamp) async throws(AuthError) -> KeyRevocation {
        try await write("revoke api key") { db in
            guard let scope = try KeyScope.fetchOne(
                db.cachedStatement(sql: "SELECT scope FROM api_keys WHERE id = ? AND revoked_at IS NULL"),
                arguments: [id])
            else { return .notFound }
            if scope == .admin {
                let activeAdmins = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM api_keys WHERE scope = ? AND revoked_at IS NULL"),
                    arguments: [KeyScope.admin]) ?? 0
                if activeAdmins <= 1 { return .lastAdminKey }
            }
            try db.cachedStatement(sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ?").execute(arguments: [now, id])
            return .revoked
        }
    }

    public func apiKeyCount() async throws(AuthError) -> Int {
        try await read("count api keys") { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM api_keys")) ?? 0
        }
    }
}
