public import AuthClient

/// The calls of the Mail service the worker makes. `RemoteMailQueue` makes them over the
/// wire; tests put an in-memory queue in its place to check the loop's logic.
public protocol MailQueue: Sendable {
    func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(RPCError) -> [OutboxMessage]
    /// Returns the ids whose lease no longer held.
    func acknowledge(_ messages: [LeasedMessage]) async throws(RPCError) -> [UInt64]
    func reportFailure(_ message: LeasedMessage, permanent: Bool, reason: String) async throws(RPCError) -> ReportFailureResponse
    /// Returns the ids whose lease no longer held.
    func renew(_ messages: [LeasedMessage], leaseSeconds: Int) async throws(RPCError) -> [UInt64]
    /// Returns the ids whose lease no longer held.
    func release(_ messages: [LeasedMessage]) async throws(RPCError) -> [UInt64]
}

/// The Mail service of an authd server, reached with a mailer-scope key.
public struct RemoteMailQueue: MailQueue {
    public let client: MailService.Client

    public init(client: MailService.Client) {
        self.client = client
    }

    public func lease(workerID: String, batchSize: Int, leaseSeconds: Int) async throws(RPCError) -> [OutboxMessage] {
        try await client.leaseMessages(LeaseMessagesRequest(
            workerID: workerID, batchSize: UInt32(clamping: batchSize), leaseSeconds: UInt32(clamping: leaseSeconds)
        )).messages
    }

    public func acknowledge(_ messages: [LeasedMessage]) async throws(RPCError) -> [UInt64] {
        try await client.ackMessages(AckMessagesRequest(messages: messages)).stale
    }

    public func reportFailure(_ message: LeasedMessage, permanent: Bool, reason: String) async throws(RPCError) -> ReportFailureResponse {
        try await client.reportFailure(ReportFailureRequest(message: message, permanent: permanent, reason: reason))
    }

    public func renew(_ messages: [LeasedMessage], leaseSeconds: Int) async throws(RPCError) -> [UInt64] {
        try await client.renewLease(RenewLeaseRequest(messages: messages, leaseSeconds: UInt32(clamping: leaseSeconds))).stale
    }

    public func release(_ messages: [LeasedMessage]) async throws(RPCError) -> [UInt64] {
        try await client.releaseMessages(ReleaseMessagesRequest(messages: messages)).stale
    }
}

extension OutboxMessage {
    var leased: LeasedMessage { LeasedMessage(id: id, leaseToken: leaseToken) }
}
