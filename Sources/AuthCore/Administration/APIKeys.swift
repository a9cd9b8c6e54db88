import AuthCrypto
public import Logging

/// Creates API keys and checks the one a call presents.
///
/// A key is `authd_ak_` + 256 random bits in base64url; only its SHA-256 is stored.
/// Checking is one indexed read; last use is written back at most once a minute a key,
/// which is the one piece of state this actor owns.
public actor APIKeys {
    public static let secretPrefix = "authd_ak_"

    private let storage: any KeyStore
    private let clock: any WallClock
    private let logger: Logger
    /// When each key's use was last written to the store.
    private var lastTouched: [String: Timestamp] = [:]

    public init(storage: any KeyStore, clock: any WallClock, logger: Logger = Logger(label: "authd.keys")) {
        self.logger = logger
        self.storage = storage
        self.clock = clock
    }

    /// A new key; the secret is returned this once.
    public func create(name: String, scope: KeyScope) async throws(AuthError) -> (key: APIKey, secret: String) {
        let secret = Self.newSecret()
        return (try await store(name: name, scope: scope, secret: secret), secret)
    }

    /// A fresh secret, for a caller that must hand it out before the key is stored.
    public static func newSecret() -> String {
        SecretToken.make(prefix: secretPrefix)
    }

    /// Whether `text` has the shape of a key secret.
    public static func looksLikeSecret(_ text: String) -> Bool {
        text.hasPrefix(secretPrefix) && text.utf8.count == secretPrefix.utf8.count + 43
            && text.utf8.dropFirst(secretPrefix.utf8.count).allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
            }
    }

    /// The name as stored: trimmed, 1 to 128 bytes, no control or bidirectional-override
    /// character (it is listed and logged), checked before trimming, which would quietly
    /// drop a trailing CR or NEL. Check it before a secret is handed out.
    public static func validatedName(_ raw: String) throws(AuthError) -> String {
        try Validation.checkLabel(raw, field: "name")
        let name = raw.trimmingWhitespace()
        guard !name.isEmpty, name.utf8.count <= 128 else {
            throw .invalidArgument("name must have 1 to 128 characters", field: "name")
        }
        return name
    }

    /// Stores a key for `secret`, which the caller has already given to its holder.
    public func store(name: String, scope: KeyScope, secret: String) async throws(AuthError) -> APIKey {
        let key = try newKey(name: name, scope: scope, secret: secret)
        try await storage.insertAPIKey(key)
        return created(key)
    }

    /// Stores the key only if the database never had one; nil when another process (an
    /// instance starting beside this one on a shared database) created the first key.
    public func storeFirst(name: String, scope: KeyScope, secret: String) async throws(AuthError) -> APIKey? {
        let key = try newKey(name: name, scope: scope, secret: secret)
        guard try await storage.insertFirstAPIKey(key) else { return nil }
        return created(key)
    }

    /// True when a key (revoked or not) has this secret.
    public func isStored(secret: String) async throws(AuthError) -> Bool {
        try await storage.apiKey(secretHash: SecretToken.hash(secret)) != nil
    }

    private func newKey(name: String, scope: KeyScope, secret: String) throws(AuthError) -> NewAPIKey {
        NewAPIKey(
            id: "key_" + Hex.encode(SecureRandom.bytes(8)), name: try Self.validatedName(name), scope: scope,
            secretHash: SecretToken.hash(secret), createdAt: clock.now)
    }

    private func created(_ key: NewAPIKey) -> APIKey {
        logger.info("API key created", metadata: ["key": "\(key.id)", "name": "\(key.name)", "scope": "\(key.scope.rawValue)"])
        return APIKey(id: key.id, name: key.name, scope: key.scope, createdAt: key.createdAt)
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
            logger.info("API key revoked", metadata: ["key": "\(id)"])
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

    /// True on a database that never had a key: the first start, which gives the operator
    /// a way in.
    public func isFirstStart() async throws(AuthError) -> Bool {
        try await storage.apiKeyCount() == 0
    }

    private func touch(_ key: APIKey) async throws(AuthError) {
        let now = clock.now
        if let last = lastTouched[key.id], now.since(last) < .seconds(60) { return }
        // Recorded before the write's await, so that calls arriving meanwhile do not write too.
        lastTouched[key.id] = now
        try await storage.touchAPIKey(id: key.id, at: now)
    }
}
