public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    /// What `apiKeyRecord(_:)` reads, in its order.
    static let apiKeyColumns = "id, name, scope, created_at, last_used_at, revoked_at"

    /// A row of `apiKeyColumns`. An unknown scope (written by a newer build) is an error.
    static func apiKeyRecord(_ row: PostgresRow) throws -> APIKey {
        let (id, name, scope, createdAt, lastUsedAt, revokedAt) = try row.decode(
            (String, String, String, Int64, Int64?, Int64?).self)
        guard let keyScope = KeyScope(rawValue: scope) else {
            throw AuthError.storage("api key \(id) has an unknown scope \(scope)")
        }
        return APIKey(
            id: id,
            name: name,
            scope: keyScope,
            createdAt: Timestamp(milliseconds: createdAt),
            lastUsedAt: lastUsedAt.map(Timestamp.init(milliseconds:)),
            revokedAt: revokedAt.map(Timestamp.init(milliseconds:)))
    }

    /// A taken id is `.alreadyExists` (field "id"). Two processes inserting one id at once:
    /// the later one's insert hits the key this transaction read as absent, which
    /// SERIALIZABLE reports as a serialization failure; its retry finds the key.
    public func insertAPIKey(_ key: NewAPIKey) async throws(AuthError) {
        try await write("insert api key") { connection in
            guard try await connection.row("SELECT 1 FROM api_keys WHERE id = \(key.id)") == nil else {
                throw AuthError(.alreadyExists, "api key \(key.id) already exists", field: "id")
            }
            try await connection.run("""
                INSERT INTO api_keys (id, name, scope, secret_hash, created_at)
                VALUES (\(key.id), \(key.name), \(key.scope.rawValue), \(key.secretHash.bytea), \(key.createdAt.milliseconds))
                """)
        }
    }

    /// Instances starting together each take one advisory lock first, so the second counts
    /// after the first committed its key (READ COMMITTED sees it) and writes nothing.
    public func insertFirstAPIKey(_ key: NewAPIKey) async throws(AuthError) -> Bool {
        try await lockedWrite("insert first api key", locking: ["first api key"]) { connection in
            guard try await connection.value(Int64.self, "SELECT count(*) FROM api_keys") == 0 else { return false }
            try await connection.run("""
                INSERT INTO api_keys (id, name, scope, secret_hash, created_at)
                VALUES (\(key.id), \(key.name), \(key.scope.rawValue), \(key.secretHash.bytea), \(key.createdAt.milliseconds))
                """)
            return true
        }
    }

    /// On every Admin and Mail call: one lookup on the unique index of `secret_hash`.
    public func apiKey(secretHash: [UInt8]) async throws(AuthError) -> APIKey? {
        try await readStatement("read api key") { connection in
            try await connection.row("""
                SELECT \(unescaped: Self.apiKeyColumns) FROM api_keys WHERE secret_hash = \(secretHash.bytea)
                """).map(Self.apiKeyRecord)
        }
    }

    /// Never moves `lastUsedAt` backwards, and leaves a revoked or unknown key alone.
    public func touchAPIKey(id: String, at now: Timestamp) async throws(AuthError) {
        try await write("touch api key") { connection in
            try await connection.run("""
                UPDATE api_keys SET last_used_at = GREATEST(coalesce(last_used_at, \(now.milliseconds)), \(now.milliseconds))
                WHERE id = \(id) AND revoked_at IS NULL
                """)
        }
    }

    /// Oldest first; keys created in one millisecond by id (SQLite's tie-break, insertion
    /// order, has no PostgreSQL counterpart in this table).
    public func apiKeys() async throws(AuthError) -> [APIKey] {
        try await readStatement("read api keys") { connection in
            try await connection.rows("""
                SELECT \(unescaped: Self.apiKeyColumns) FROM api_keys ORDER BY created_at, id
                """).map(Self.apiKeyRecord)
        }
    }

    /// Revoking an admin key locks every unrevoked admin key's row (in id order, so two
    /// revocations wait rather than deadlock) and counts them under those locks. Two
    /// processes revoking the last two admin keys at once: both lock the same two rows, so
    /// one waits; once the first commits, SERIALIZABLE aborts the second (a row it locked
    /// was changed), and its retry counts one key left and answers `.lastAdminKey`. The
    /// locks keep this true without relying on SERIALIZABLE's read tracking.
    public func revokeAPIKey(id: String, at now: Timestamp) async throws(AuthError) -> KeyRevocation {
        try await write("revoke api key") { connection in
            guard let scope = try await connection.value(String.self, """
                SELECT scope FROM api_keys WHERE id = \(id) AND revoked_at IS NULL
                """)
            else { return .notFound }
            if scope == KeyScope.admin.rawValue {
                let liveAdmins = try await connection.values(String.self, """
                    SELECT id FROM api_keys WHERE scope = \(KeyScope.admin.rawValue) AND revoked_at IS NULL
                    ORDER BY id
                    FOR UPDATE
                    """)
                guard liveAdmins.contains(id) else { return .notFound }
                if liveAdmins.count <= 1 { return .lastAdminKey }
            }
            try await connection.run("UPDATE api_keys SET revoked_at = \(now.milliseconds) WHERE id = \(id)")
            return .revoked
        }
    }

    public func apiKeyCount() async throws(AuthError) -> Int {
        try await readStatement("count api keys") { connection in
            Int(try await connection.value(Int64.self, "SELECT count(*) FROM api_keys") ?? 0)
        }
    }
}
