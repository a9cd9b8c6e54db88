/// The statements of the token check, named so that a test can hold their query plans to
/// indexed lookups (the check must cost the same with 10^3 or 10^6 users).
enum Queries {
    /// A live session by token hash, joined with its user when not blocked. The columns
    /// are what `AuthenticatedSessionRow` reads.
    static let authenticate = """
        SELECT sessions.id AS session_id, sessions.user_id, sessions.created_at AS session_created_at,
               sessions.last_seen_at, sessions.idle_expires_at, sessions.absolute_expires_at,
               users.email, users.password_hash IS NOT NULL AS has_password,
               users.created_at AS user_created_at, users.updated_at AS user_updated_at
        FROM sessions JOIN users ON users.id = sessions.user_id
        WHERE sessions.token_hash = :hash AND sessions.revoked_at IS NULL
          AND sessions.idle_expires_at > :now AND sessions.absolute_expires_at > :now
          AND users.blocked = 0
        """

    static let attributes = "SELECT name, value FROM user_attributes WHERE user_id = ?"

    static let roles = """
        SELECT roles.name FROM user_roles JOIN roles ON roles.id = user_roles.role_id
        WHERE user_roles.user_id = ?
        """

    /// An API key by the hash of its secret: run on every Admin and Mail call.
    static let apiKey = "SELECT \(apiKeyColumns) FROM api_keys WHERE secret_hash = ?"

    /// What `APIKey(row:)` reads.
    static let apiKeyColumns = "id, name, scope, created_at, last_used_at, revoked_at"
}
