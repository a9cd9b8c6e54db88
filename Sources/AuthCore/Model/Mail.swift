/// A message handed to a worker until `leaseExpiresAt`.
public struct OutboxLease: Hashable, Sendable {
    public var id: Int64
    public var leaseToken: String
    public var leaseExpiresAt: Timestamp
    public var message: NewOutboxMessage
    /// 1 on the first delivery attempt.
    public var attempt: Int

    public init(id: Int64, leaseToken: String, leaseExpiresAt: Timestamp, message: NewOutboxMessage, attempt: Int) {
        self.id = id
        self.leaseToken = leaseToken
        self.leaseExpiresAt = leaseExpiresAt
        self.message = message
        self.attempt = attempt
    }
}

/// A message a worker holds, as the worker names it back.
public struct LeaseReference: Hashable, Sendable {
    public var id: Int64
    public var leaseToken: String

    public init(id: Int64, leaseToken: String) {
        self.id = id
        self.leaseToken = leaseToken
    }
}

public enum FailureOutcome: Hashable, Sendable {
    case retry(at: Timestamp)
    case dead
    /// The lease no longer held: another worker may have the message.
    case stale
}

public struct QueueStatistics: Hashable, Sendable {
    public var queued: Int
    public var leased: Int
    public var sent: Int
    public var retrying: Int
    public var dead: Int
    public var oldestQueuedAt: Timestamp?

    public init(queued: Int, leased: Int, sent: Int, retrying: Int, dead: Int, oldestQueuedAt: Timestamp?) {
        self.queued = queued
        self.leased = leased
        self.sent = sent
        self.retrying = retrying
        self.dead = dead
        self.oldestQueuedAt = oldestQueuedAt
    }
}

public struct DeadMessage: Hashable, Sendable {
    public var id: Int64
    public var recipient: String
    public var subject: String
    public var attempts: Int
    public var lastError: String
    public var createdAt: Timestamp

    public init(id: Int64, recipient: String, subject: String, attempts: Int, lastError: String, createdAt: Timestamp) {
        self.id = id
        self.recipient = recipient
        self.subject = subject
        self.attempts = attempts
        self.lastError = lastError
        self.createdAt = createdAt
    }
}
