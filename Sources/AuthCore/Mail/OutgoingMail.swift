import AuthCrypto

/// Turns a template kind and its values into an outbox row: the operator's template or
/// the built-in one, the sender and link base from the settings, all from one directory
/// snapshot.
struct OutgoingMail: Sendable {
    let directory: Directory

    /// `values` gets the settings of the snapshot the email is rendered with (for the
    /// app's base URL and name).
    func compose(
        _ kind: TemplateKind,
        to recipient: String,
        values: (Settings) -> TemplateValues,
        at now: Timestamp
    ) async throws(AuthError) -> NewOutboxMessage {
        let snapshot = try await directory.snapshot()
        let rendered = try EmailTemplates.render(snapshot.template(kind), values: values(snapshot.settings))
        return NewOutboxMessage(
            messageID: Self.newMessageID(),
            kind: kind,
            sender: snapshot.settings.mailFrom,
            recipient: recipient,
            subject: rendered.subject,
            textBody: rendered.textBody,
            htmlBody: rendered.htmlBody,
            headers: ["Auto-Submitted": "auto-generated"],
            createdAt: now
        )
    }

    /// "<32 hex digits@authd>": stable for the row, unique across rows.
    static func newMessageID() -> String {
        "<\(Hex.encode(SecureRandom.bytes(16)))@authd>"
    }
}

/// A new invitation: the code for the email (shown nowhere else) and the rows to store.
public struct Invitation: Sendable {
    public var code: String
    public var record: NewOneTimeCode
    public var email: NewOutboxMessage
}
