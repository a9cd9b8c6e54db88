import AuthCrypto

/// Creates API keys and checks the one a call presents.
///
/// A key is `authd_ak_` + 256 random bits in base64url; only its SHA-256 is stored.
/// Checking is one indexed read; last use is written back at most once a minute a key,
/// which is the one piece of state this actor owns.
public actor APIKeys {
    public static let secretPrefix = "authd_ak_"

    private let storage: any KeyStore
    private let clock: any WallClock
    /// When each key's use was last written to the store.
    private var lastTouched: [String: Timestamp] = [:]

    public init(storage: any KeyStore, clock: any WallClock) {
        self.storage = storage
        self.clock = clock
    }

    /// A new key; the secret is returned this once.
    public func create(name: String, scope: KeyScope) async throws(AuthError) -> (key: APIKey, secret: String) {
        let name = name.trimmingWhitespace()
        guard !name.isEmpty, name.utf8.count <= 128 else {
            throw .invalidArgument("name must have 1 to 128 characters", field: "name")
        }
        let secret = SecretToken.make(prefix: Self.secretPrefix)
        let id = "key_" + Hex.encode(SecureRandom.bytes(8))
        let now = clock.now
        try await storage.insertAPIKey(
            NewAPIKey(id: id, name: name, scope: scope, secretHash: SecretToken.hash(secret), createdAt: now)
        )
        return (APIKey(id: id, name: name, scope: scope, createdAt: now), secret)
    }

    /// The key behind an `authorization` value ("Bearer <secret>"), if it may call a
    /// service of `scope`. A missing, malformed, unknown or revoked key is UNAUTHENTICATED;
    /// a good key of another scope is PERMISSION_DENIED.
    public func authorize(_ authorization: String?, for scope: KeyScope) async throws(AuthError) -> APIKey {
        guard let authorization, !authorization.isEmpty else {
            throw AuthError(
                .unauthenticated,
                "this call needs an API key of scope \(scope.rawValue) in the authorization metadata (\"Bearer <key>\")"
            )
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", parts[1].hasPrefix(Self.secretPrefix) else {
            throw AuthError(.unauthenticated, "authorization must be \"Bearer authd_ak_…\"")
        }
        guard let key = try await storage.apiKey(secretHash: SecretToken.hash(String(parts[1]))) else {
            throw AuthError(.unauthenticated, "API key is not known")
        }
        guard key.revokedAt == nil else {
            throw AuthError(.unauthenticated, "API key '\(key.name)' (\(key.id)) was revoked")
        }
        guard key.scope == scope else {
            throw AuthError(
                .permissionDenied,
                "API key '\(key.name)' has scope \(key.scope.rawValue); this call needs scope \(scope.rawValue)"
            )
        }
        try await touch(key)
        return key
    }

    public func list() async throws(AuthError) -> [APIKey] {
        try await storage.apiKeys()
    }

    /// Refuses to revoke the last unrevoked admin key: without one, no operator could call
    /// the Admin service again (see `authd admin-key create` for a lost one).
    public func revoke(id: String) async throws(AuthError) {
        switch try await storage.revokeAPIKey(id: id, at: clock.now) {
        case .revoked:
            return
        case .notFound:
            throw AuthError(.notFound, "no unrevoked API key has id '\(id)'", field: "id")
        case .lastAdminKey:
            throw AuthError(
                .failedPrecondition,
                "key '\(id)' is the last unrevoked admin key; create another admin key first, or nobody could administer this server",
                field: "id"
            )
        }
    }

    /// On an empty database, the operator's way in: an admin key named "first admin".
    /// Nil when any key was ever created.
    public func createFirstAdminKeyIfNone() async throws(AuthError) -> (key: APIKey, secret: String)? {
        guard try await storage.apiKeyCount() == 0 else { return nil }
        return try await create(name: "first admin", scope: .admin)
    }

    private func touch(_ key: APIKey) async throws(AuthError) {
        let now = clock.now
        if let last = lastTouched[key.id], now.since(last) < .seconds(60) { return }
        // Recorded before the write's await, so that calls arriving meanwhile do not write too.
        lastTouched[key.id] = now
        try await storage.touchAPIKey(id: key.id, at: now)
    }
}
