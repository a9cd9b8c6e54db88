/// An email to send, written to the outbox in the same transaction as the change that causes it.
public struct NewOutboxMessage: Hashable, Sendable {
    /// Stable per message ("<random>@authd"): lets a recipient's system spot a resent duplicate.
    public var messageID: String
    /// Which email this is; the template it was rendered from.
    public var kind: TemplateKind
    public var sender: String
    public var recipient: String
    public var subject: String
    public var textBody: String
    public var htmlBody: String
    public var headers: [String: String]
    public var createdAt: Timestamp

    public init(
        messageID: String,
        kind: TemplateKind,
        sender: String,
        recipient: String,
        subject: String,
        textBody: String,
        htmlBody: String,
        headers: [String: String] = [:],
        createdAt: Timestamp
    ) {
        self.messageID = messageID
        self.kind = kind
        self.sender = sender
        self.recipient = recipient
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.headers = headers
        self.createdAt = createdAt
    }
}

/// Where an outbox message is in its life.
public enum OutboxState: String, Hashable, Sendable, CaseIterable {
    /// Waiting for its next attempt.
    case queued
    /// Held by a worker until its lease expires.
    case leased
    case sent
    /// Failed for good, or too often; an operator can requeue it.
    case dead
}

/// An outbox row as stored.
public struct OutboxRecord: Hashable, Sendable {
    public var id: Int64
    public var message: NewOutboxMessage
    public var state: OutboxState
    public var attempts: Int

    public init(id: Int64, message: NewOutboxMessage, state: OutboxState, attempts: Int) {
        self.id = id
        self.message = message
        self.state = state
        self.attempts = attempts
    }
}
