/// Which sessions a password change ends.
public enum SessionRevocation: Hashable, Sendable {
    /// None: a rehash with new parameters is not a password change.
    case none
    /// Every session of the user.
    case all
    /// Every session but the caller's own.
    case allExcept(sessionID: Int64)
}

/// Everything the domain needs from a database. Each method is one transaction, so
/// that what must change together does (a code and its email, a password and the
/// sessions it ends). The SQLite implementation is `AuthStore.SQLiteStorage`; a
/// PostgreSQL one can follow behind the same protocol.
///
/// Errors: a unique email already taken is `.alreadyExists` with field "email"; an
/// unknown user where one must exist is `.notFound`; anything else the database
/// refuses is `.internal` (`AuthError.storage`).
public protocol AuthStorage: Sendable {
    // MARK: Users

    /// Stores the user and, in the same transaction, its first session when given.
    func insertUser(_ user: NewUser, session: NewSession?) async throws(AuthError) -> User

    func user(id: UserID) async throws(AuthError) -> User?

    /// `email` is already normalised.
    func credentials(email: String) async throws(AuthError) -> UserCredentials?

    func credentials(id: UserID) async throws(AuthError) -> UserCredentials?

    /// Applies `changes` and bumps `updatedAt`.
    func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User

    /// Replaces the password hash and ends the sessions `revoking` names, in one transaction.
    func setPasswordHash(
        userID: UserID,
        hash: String,
        revoking: SessionRevocation,
        at now: Timestamp
    ) async throws(AuthError)

    // MARK: Sessions

    func insertSession(_ session: NewSession) async throws(AuthError) -> SessionRecord

    /// The session with this token hash and its user, or nil when there is none, it is
    /// revoked, either expiry has passed at `now`, or its user is blocked.
    func authenticate(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> AuthenticatedSession?

    /// Records use of a session and pushes its idle expiry forward.
    func touchSession(id: Int64, lastSeenAt: Timestamp, idleExpiresAt: Timestamp) async throws(AuthError)

    /// Ends one session; false when no live session had this token hash.
    func revokeSession(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> Bool

    /// Ends the user's sessions that `revoking` names; returns how many ended.
    func revokeSessions(userID: UserID, revoking: SessionRevocation, at now: Timestamp) async throws(AuthError) -> Int

    // MARK: One-time codes

    /// Voids the user's live codes of the same purpose, stores `code`, and queues `email`,
    /// in one transaction.
    func issueCode(_ code: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError)

    /// In one transaction: takes the user's live password-reset code (not used, not voided,
    /// not expired at `now`), compares `codeHash` with it in constant time, and then either
    /// counts a wrong try (voiding the code at `maxAttempts` wrong tries) or marks the code
    /// used, sets `newPasswordHash` and ends every session of the user.
    func redeemPasswordResetCode(
        userID: UserID,
        codeHash: [UInt8],
        newPasswordHash: String,
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> CodeCheck

    /// The one live invitation code with this hash, and its user; nil when there is none.
    func invitation(codeHash: [UInt8], at now: Timestamp) async throws(AuthError) -> UserID?

    /// In one transaction: re-checks that the invitation is live for `userID`, marks it
    /// used, sets `passwordHash` and stores `session`. `.wrong` is never returned: an
    /// invitation code is long enough that wrong tries do not need counting.
    func redeemInvitation(
        userID: UserID,
        codeHash: [UInt8],
        passwordHash: String,
        session: NewSession,
        at now: Timestamp
    ) async throws(AuthError) -> CodeCheck

    // MARK: Templates and settings

    /// The operator's version of a template; nil means the built-in one.
    func emailTemplate(kind: String) async throws(AuthError) -> StoredEmailTemplate?

    func settings() async throws(AuthError) -> [String: String]

    // MARK: Throttles

    func throttle(key: String) async throws(AuthError) -> ThrottleRecord?

    /// Counts one failure against `key`, starting a new window (count 1) when the current
    /// window began more than `window` before `now`.
    func recordFailure(key: String, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord

    func clearFailures(key: String) async throws(AuthError)

    // MARK: Outbox

    /// Messages queued for `recipient` (all when nil), oldest first.
    func outboxMessages(recipient: String?) async throws(AuthError) -> [OutboxRecord]
}
