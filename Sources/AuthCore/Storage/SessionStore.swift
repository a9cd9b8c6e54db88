/// Which sessions a password change ends.
public enum SessionRevocation: Hashable, Sendable {
    /// None: a rehash with new parameters is not a password change.
    case none
    /// Every session of the user.
    case all
    /// Every session but the caller's own.
    case allExcept(sessionID: Int64)
}

/// Sessions, found by the SHA-256 of their token.
public protocol SessionStore: Sendable {
    func insertSession(_ session: NewSession) async throws(AuthError) -> SessionRecord

    /// The session with this token hash and its user, or nil when there is none, it is
    /// revoked, either expiry has passed at `now`, or its user is blocked.
    func authenticate(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> AuthenticatedSession?

    /// Records uses of sessions (last seen, the idle expiry pushed forward), many in one
    /// transaction: the `SessionToucher` writes them back off the token check's path.
    func touchSessions(_ touches: [SessionTouch]) async throws(AuthError)

    /// Ends one session; false when no live session had this token hash.
    func revokeSession(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> Bool

    /// Ends the user's sessions that `revoking` names; returns how many ended.
    func revokeSessions(userID: UserID, revoking: SessionRevocation, at now: Timestamp) async throws(AuthError) -> Int

    /// Deletes sessions that ended (expired or revoked) before `cutoff`; returns how many.
    func deleteSessions(endedBefore cutoff: Timestamp) async throws(AuthError) -> Int
}
