/// One-time codes: password-reset codes and invitations, stored as hashes.
public protocol CodeStore: Sendable {
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

    /// Voids the user's live email-change codes, stores `code` (with its `newEmail`) and
    /// queues `emails` (the code to the new address, the notice to the old one), in one
    /// transaction.
    func issueEmailChange(_ code: NewOneTimeCode, emails: [NewOutboxMessage]) async throws(AuthError)

    /// In one transaction: takes the user's live email-change code, compares `codeHash`
    /// in constant time, then counts a wrong try (voiding the code at `maxAttempts`) or
    /// marks it used and sets the user's email to the code's new address — unless another
    /// user has it by now (`.emailTaken`, the code stays unused).
    func redeemEmailChangeCode(
        userID: UserID,
        codeHash: [UInt8],
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> EmailChangeCheck

    /// The work `issueCode` does, for an email no account has: the same statements on
    /// tables of the same shape that nobody reads, in one transaction, so that
    /// ForgotPassword takes as long for an unknown email as for a known one.
    func issueDecoyCode(codeHash: [UInt8], email: NewOutboxMessage) async throws(AuthError)

    /// Deletes codes that were used, voided or expired before `cutoff`, and the decoys of
    /// `issueDecoyCode` written before it; returns how many codes.
    func deleteCodes(finishedBefore cutoff: Timestamp) async throws(AuthError) -> Int
}
