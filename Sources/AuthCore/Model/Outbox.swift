/// An email to send, written to the outbox in the same transaction as the change that causes it.
public struct NewOutboxMessage: Hashable, Sendable {
    /// Stable per message ("<random>@authd"): lets a recipient's system spot a resent duplicate.
    public var messageID: String
    /// "password_reset", "invitation", ...
    public var kind: String
    public var sender: String
    public var recipient: String
    public var subject: String
    public var textBody: String
    public var htmlBody: String
    public var headers: [String: String]
    public var createdAt: Timestamp

    public init(
        messageID: String,
        kind: String,
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

/// An outbox row as stored, for tests and the Mail service.
public struct OutboxRecord: Hashable, Sendable {
    public var id: Int64
    public var message: NewOutboxMessage
    /// "queued", "leased", "sent", "dead".
    public var state: String
    public var attempts: Int

    public init(id: Int64, message: NewOutboxMessage, state: String, attempts: Int) {
        self.id = id
        self.message = message
        self.state = state
        self.attempts = attempts
    }
}
