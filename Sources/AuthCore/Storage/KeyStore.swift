/// API keys, found by the SHA-256 of their secret.
public protocol KeyStore: Sendable {
    func insertAPIKey(_ key: NewAPIKey) async throws(AuthError)

    /// Inserts the key only on a database that never had one, count and insert in one
    /// transaction: instances starting together on one shared database create one first
    /// key between them. False when a key already existed (nothing written).
    func insertFirstAPIKey(_ key: NewAPIKey) async throws(AuthError) -> Bool

    /// The key with this secret hash, revoked or not; nil when there is none.
    func apiKey(secretHash: [UInt8]) async throws(AuthError) -> APIKey?

    /// Records use (callers do it at most once a minute per key).
    func touchAPIKey(id: String, at now: Timestamp) async throws(AuthError)

    /// Every key, oldest first.
    func apiKeys() async throws(AuthError) -> [APIKey]

    /// Revokes the key in one transaction, unless it is the last unrevoked admin key:
    /// revoking that one would lock every operator out.
    func revokeAPIKey(id: String, at now: Timestamp) async throws(AuthError) -> KeyRevocation

    /// Keys ever created, revoked ones included: zero means a first start.
    func apiKeyCount() async throws(AuthError) -> Int
}
