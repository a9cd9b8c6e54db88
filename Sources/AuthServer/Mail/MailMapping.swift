import AuthCore
import AuthWire

// Wire <-> domain for auth.v1.Mail.

extension LeaseReference {
    init(_ leased: AuthV1.LeasedMessage) {
        self.init(id: Int64(clamping: leased.id), leaseToken: leased.leaseToken)
    }
}

extension AuthV1.OutboxMessage {
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
