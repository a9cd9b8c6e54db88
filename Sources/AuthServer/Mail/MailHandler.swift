import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Mail` on the wire, `Outbox` behind it. The mailer-scope key is checked
/// before any of these runs (see `AuthdServer`).
struct MailHandler: MailService.Handler {
    let outbox: Outbox

    func leaseMessages(_ request: AuthV1.LeaseMessagesRequest, context: CallContext) async throws -> AuthV1.LeaseMessagesResponse {
        let leases = try await outbox.lease(
            workerID: request.workerID,
            batchSize: Int(request.batchSize),
            leaseSeconds: Int(request.leaseSeconds)
        )
        return AuthV1.LeaseMessagesResponse(messages: leases.map(AuthV1.OutboxMessage.init))
    }

    func ackMessages(_ request: AuthV1.AckMessagesRequest, context: CallContext) async throws -> AuthV1.AckMessagesResponse {
        AuthV1.AckMessagesResponse(stale: try await outbox.acknowledge(request.messages.map(LeaseReference.init)).map(UInt64.init))
    }

    func reportFailure(_ request: AuthV1.ReportFailureRequest, context: CallContext) async throws -> AuthV1.ReportFailureResponse {
        guard let message = request.message else {
            throw AuthError.invalidArgument("message is required", field: "message")
        }
        switch try await outbox.reportFailure(LeaseReference(message), permanent: request.permanent, reason: request.reason) {
        case .retry(let at):
            return AuthV1.ReportFailureResponse(retryAtMs: at.milliseconds, dead: false)
        case .dead, .stale:
            return AuthV1.ReportFailureResponse(retryAtMs: 0, dead: true)
        }
    }

    func renewLease(_ request: AuthV1.RenewLeaseRequest, context: CallContext) async throws -> AuthV1.RenewLeaseResponse {
        let (stale, until) = try await outbox.renew(request.messages.map(LeaseReference.init), leaseSeconds: Int(request.leaseSeconds))
        return AuthV1.RenewLeaseResponse(stale: stale.map(UInt64.init), leaseExpiresAtMs: until.milliseconds)
    }

    func releaseMessages(_ request: AuthV1.ReleaseMessagesRequest, context: CallContext) async throws -> AuthV1.ReleaseMessagesResponse {
        AuthV1.ReleaseMessagesResponse(stale: try await outbox.release(request.messages.map(LeaseReference.init)).map(UInt64.init))
    }

    func queueStats(_ request: AuthV1.QueueStatsRequest, context: CallContext) async throws -> AuthV1.QueueStatsResponse {
        let (stats, age) = try await outbox.statistics()
        return AuthV1.QueueStatsResponse(
            queued: UInt64(stats.queued),
            leased: UInt64(stats.leased),
            sent: UInt64(stats.sent),
            retrying: UInt64(stats.retrying),
            dead: UInt64(stats.dead),
            oldestQueuedAgeMs: age.wholeMilliseconds
        )
    }
}
