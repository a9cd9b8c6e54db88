import AuthCrypto

/// The emails the identity flows send, as outbox rows.
///
/// Built-in texts for now; operator-edited templates (swift-mustache) replace them
/// behind this same function.
enum IdentityMail {
    static func passwordResetCode(
        to recipient: String,
        code: String,
        validity: Duration,
        from sender: String,
        at now: Timestamp
    ) -> NewOutboxMessage {
        let minutes = validity.wholeMilliseconds / 60_000
        return NewOutboxMessage(
            messageID: newMessageID(),
            kind: "password_reset",
            sender: sender,
            recipient: recipient,
            subject: "Your verification code",
            textBody: """
                Your verification code is \(code).

                It expires in \(minutes) minutes and works once. If you did not ask to reset your password, ignore this email.
                """,
            htmlBody: """
                <p>Your verification code is <strong>\(code)</strong>.</p>
                <p>It expires in \(minutes) minutes and works once. If you did not ask to reset your password, ignore this email.</p>
                """,
            headers: ["Auto-Submitted": "auto-generated"],
            createdAt: now
        )
    }

    /// "<32 hex digits>@authd": stable for the row, unique across rows.
    static func newMessageID() -> String {
        "<\(Hex.encode(SecureRandom.bytes(16)))@authd>"
    }
}
