/// A stored session. The token itself is never stored: only its SHA-256.
public struct SessionRecord: Hashable, Sendable {
    public var id: Int64
    public var userID: UserID
    public var tokenHash: [UInt8]
    public var createdAt: Timestamp
    /// Last time a call used the session (updated coarsely, see `SessionPolicy.touchInterval`).
    public var lastSeenAt: Timestamp
    public var idleExpiresAt: Timestamp
    public var absoluteExpiresAt: Timestamp

    public init(
        id: Int64,
        userID: UserID,
        tokenHash: [UInt8],
        createdAt: Timestamp,
        lastSeenAt: Timestamp,
        idleExpiresAt: Timestamp,
        absoluteExpiresAt: Timestamp
    ) {
        self.id = id
        self.userID = userID
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.idleExpiresAt = idleExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
    }
}

/// A session about to be stored.
public struct NewSession: Hashable, Sendable {
    public var userID: UserID
    public var tokenHash: [UInt8]
    public var createdAt: Timestamp
    public var idleExpiresAt: Timestamp
    public var absoluteExpiresAt: Timestamp
    /// The end user's address, from the caller's metadata, for the operator's eyes.
    public var clientAddress: String?

    public init(
        userID: UserID,
        tokenHash: [UInt8],
        createdAt: Timestamp,
        idleExpiresAt: Timestamp,
        absoluteExpiresAt: Timestamp,
        clientAddress: String? = nil
    ) {
        self.userID = userID
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.idleExpiresAt = idleExpiresAt
        self.absoluteExpiresAt = absoluteExpiresAt
        self.clientAddress = clientAddress
    }
}

/// A session that authenticated, with its (current) user.
public struct AuthenticatedSession: Hashable, Sendable {
    public var session: SessionRecord
    public var user: User

    public init(session: SessionRecord, user: User) {
        self.session = session
        self.user = user
    }
}

/// A recorded use of a session: its new last-seen time and idle expiry.
public struct SessionTouch: Hashable, Sendable {
    public var sessionID: Int64
    public var lastSeenAt: Timestamp
    public var idleExpiresAt: Timestamp

    public init(sessionID: Int64, lastSeenAt: Timestamp, idleExpiresAt: Timestamp) {
        self.sessionID = sessionID
        self.lastSeenAt = lastSeenAt
        self.idleExpiresAt = idleExpiresAt
    }
}
