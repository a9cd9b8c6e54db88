import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Mail` on the wire, `MailQueue` behind it. The mailer-scope key is checked
/// before any of these runs (see `AuthdServer`).
struct MailHandler: MailService.Handler {
    let queue: MailQueue

    func leaseMessages(_ request: LeaseMessagesRequest, context: CallContext) async throws(RPCError) -> LeaseMessagesResponse {
        try await mappingErrors { () throws(AuthError) in
            let leases = try await queue.lease(
                workerID: request.workerID,
                batchSize: Int(request.batchSize),
                leaseSeconds: Int(request.leaseSeconds)
            )
            return LeaseMessagesResponse(messages: leases.map(OutboxMessage.init))
        }
    }

    func ackMessages(_ request: AckMessagesRequest, context: CallContext) async throws(RPCError) -> AckMessagesResponse {
        try await mappingErrors { () throws(AuthError) in
            AckMessagesResponse(stale: try await queue.acknowledge(request.messages.map(LeaseReference.init)).map(UInt64.init))
        }
    }

    func reportFailure(_ request: ReportFailureRequest, context: CallContext) async throws(RPCError) -> ReportFailureResponse {
        try await mappingErrors { () throws(AuthError) in
            guard let message = request.message else {
                throw AuthError.invalidArgument("message is required", field: "message")
            }
            switch try await queue.reportFailure(LeaseReference(message), permanent: request.permanent, reason: request.reason) {
            case .retry(let at):
                return ReportFailureResponse(retryAtMs: at.milliseconds, dead: false)
            case .dead, .stale:
                return ReportFailureResponse(retryAtMs: 0, dead: true)
            }
        }
    }

    func renewLease(_ request: RenewLeaseRequest, context: CallContext) async throws(RPCError) -> RenewLeaseResponse {
        try await mappingErrors { () throws(AuthError) in
            let (stale, until) = try await queue.renew(request.messages.map(LeaseReference.init), leaseSeconds: Int(request.leaseSeconds))
            return RenewLeaseResponse(stale: stale.map(UInt64.init), leaseExpiresAtMs: until.milliseconds)
        }
    }

    func releaseMessages(_ request: ReleaseMessagesRequest, context: CallContext) async throws(RPCError) -> ReleaseMessagesResponse {
        try await mappingErrors { () throws(AuthError) in
            ReleaseMessagesResponse(stale: try await queue.release(request.messages.map(LeaseReference.init)).map(UInt64.init))
        }
    }

    func queueStats(_ request: QueueStatsRequest, context: CallContext) async throws(RPCError) -> QueueStatsResponse {
        try await mappingErrors { () throws(AuthError) in
            let (stats, age) = try await queue.statistics()
            return QueueStatsResponse(
                queued: UInt64(stats.queued),
                leased: UInt64(stats.leased),
                sent: UInt64(stats.sent),
                retrying: UInt64(stats.retrying),
                dead: UInt64(stats.dead),
                oldestQueuedAgeMs: age.wholeMilliseconds
            )
        }
    }
}

extension LeaseReference {
    init(_ leased: LeasedMessage) {
        self.init(id: Int64(clamping: leased.id), leaseToken: leased.leaseToken)
    }
}

extension OutboxMessage {
    init(_ lease: OutboxLease) {
        self.init(
            id: UInt64(lease.id),
            leaseToken: lease.leaseToken,
            leaseExpiresAtMs: lease.leaseExpiresAt.milliseconds,
            messageID: lease.message.messageID,
            from: lease.message.sender,
            to: lease.message.recipient,
            subject: lease.message.subject,
            textBody: lease.message.textBody,
            htmlBody: lease.message.htmlBody,
            headers: lease.message.headers,
            attempt: UInt32(clamping: lease.attempt)
        )
    }
}
