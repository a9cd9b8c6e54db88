import AuthCrypto

/// Turns a template kind and its values into an outbox row: the operator's template or
/// the built-in one, the sender and link base from the settings.
struct OutgoingMail: Sendable {
    let storage: any AuthStorage
    let defaultSender: String

    func template(_ kind: TemplateKind) async throws(AuthError) -> EmailTemplate {
        guard let stored = try await storage.emailTemplate(kind: kind.rawValue) else {
            return EmailTemplates.builtIn(kind)
        }
        return EmailTemplate(kind: kind, subject: stored.subject, textBody: stored.textBody, htmlBody: stored.htmlBody)
    }

    /// The settings' `app_base_url`, without a trailing slash.
    func appBaseURL() async throws(AuthError) -> String {
        var base = try await storage.settings()[Settings.Key.appBaseURL.rawValue] ?? ""
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    func compose(_ kind: TemplateKind, to recipient: String, values: TemplateValues, at now: Timestamp) async throws(AuthError) -> NewOutboxMessage {
        let rendered = try EmailTemplates.render(try await template(kind), values: values)
        let sender = try await storage.settings()[Settings.Key.mailFrom.rawValue] ?? defaultSender
        return NewOutboxMessage(
            messageID: Self.newMessageID(),
            kind: kind.rawValue,
            sender: sender,
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
