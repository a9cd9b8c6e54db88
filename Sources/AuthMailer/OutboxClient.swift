public import AuthClient

/// The calls of the Mail service the worker makes. `RemoteOutbox` makes them over the
/// wire; tests put an in-memory queue in its place to check the loop's logic.
public protocol OutboxClient: Sendable {
    func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(RPCError) -> [AuthV1.OutboxMessage]
    /// Returns the ids whose lease no longer held.
    func acknowledge(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64]
    func reportFailure(_ message: AuthV1.LeasedMessage, permanent: Bool, reason: String) async throws(RPCError) -> AuthV1.ReportFailureResponse
    /// Returns the ids whose lease no longer held.
    func renew(_ messages: [AuthV1.LeasedMessage], leaseSeconds: Int) async throws(RPCError) -> [UInt64]
    /// Returns the ids whose lease no longer held.
    func release(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64]
}

/// The Mail service of an authd server, reached with a mailer-scope key.
public struct RemoteOutbox: OutboxClient {
    public let client: MailService.Client

    public init(client: MailService.Client) {
        self.client = client
    }

    public func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(RPCError) -> [AuthV1.OutboxMessage] {
        try await client.leaseMessages(AuthV1.LeaseMessagesRequest(
            workerID: workerID, batchSize: UInt32(clamping: batchSize), leaseSeconds: UInt32(clamping: leaseSeconds)
        )).messages
    }

    public func acknowledge(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64] {
        try await client.ackMessages(AuthV1.AckMessagesRequest(messages: messages)).stale
    }

    public func reportFailure(_ message: AuthV1.LeasedMessage, permanent: Bool, reason: String) async throws(RPCError) -> AuthV1.ReportFailureResponse {
        try await client.reportFailure(AuthV1.ReportFailureRequest(message: message, permanent: permanent, reason: reason))
    }

    public func renew(_ messages: [AuthV1.LeasedMessage], leaseSeconds: Int) async throws(RPCError) -> [UInt64] {
        try await client.renewLease(AuthV1.RenewLeaseRequest(messages: messages, leaseSeconds: UInt32(clamping: leaseSeconds))).stale
    }

    public func release(_ messages: [AuthV1.LeasedMessage]) async throws(RPCError) -> [UInt64] {
        try await client.releaseMessages(AuthV1.ReleaseMessagesRequest(messages: messages)).stale
    }
}

extension AuthV1.OutboxMessage {
    var leased: AuthV1.LeasedMessage { AuthV1.LeasedMessage(id: id, leaseToken: leaseToken) }
}
