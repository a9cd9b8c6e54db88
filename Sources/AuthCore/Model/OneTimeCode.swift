/// What a one-time code is for. A user has at most one live code per purpose.
public enum CodePurpose: String, Hashable, Sendable, CaseIterable {
    case passwordReset = "password_reset"
    case invitation
    /// Confirms a new email address; the code row holds the address.
    case emailChange = "email_change"
}

/// Invitation codes: long tokens, looked up by hash (an invitation is accepted with the
/// code alone, no email).
public enum InvitationCode {
    /// Starts every invitation code: 256 random bits in base64url after it.
    public static let prefix = "authd_iv_"

    /// A cheap shape check that spares the store a lookup of garbage.
    static func looksValid(_ code: String) -> Bool {
        code.hasPrefix(prefix) && code.utf8.count <= 128
    }
}

/// A one-time code about to be stored (hashed).
public struct NewOneTimeCode: Hashable, Sendable {
    public var userID: UserID
    public var purpose: CodePurpose
    /// SHA-256 of the code (for reset codes, salted with the user id: see `CodeHashing`).
    public var codeHash: [UInt8]
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    /// With `.emailChange`: the address the account moves to when the code is confirmed.
    public var newEmail: String?

    public init(
        userID: UserID,
        purpose: CodePurpose,
        codeHash: [UInt8],
        createdAt: Timestamp,
        expiresAt: Timestamp,
        newEmail: String? = nil
    ) {
        self.userID = userID
        self.purpose = purpose
        self.codeHash = codeHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.newEmail = newEmail
    }
}

/// The outcome of confirming an email change, decided atomically with its attempt count.
public enum EmailChangeCheck: Hashable, Sendable {
    /// Right code: the account's email is now `newEmail`.
    case accepted(newEmail: String)
    case wrong(remainingAttempts: Int)
    case noLiveCode
    /// Right code, but another account took the address meanwhile; nothing changed.
    case emailTaken
}

/// The outcome of presenting a code, decided atomically with its attempt count.
public enum CodeCheck: Hashable, Sendable {
    /// Right code, now used up; the change that came with it is done.
    case accepted(UserID)
    /// Wrong code; `remainingAttempts` more wrong tries void it.
    case wrong(remainingAttempts: Int)
    /// No live code: none issued, expired, used, voided by a newer one or by too many wrong tries.
    case noLiveCode
}

/// An operator's version of an email template, as stored.
public struct StoredEmailTemplate: Hashable, Sendable {
    public var kind: TemplateKind
    public var subject: String
    public var textBody: String
    public var htmlBody: String
    public var updatedAt: Timestamp

    public init(kind: TemplateKind, subject: String, textBody: String, htmlBody: String, updatedAt: Timestamp) {
        self.kind = kind
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.updatedAt = updatedAt
    }
}
