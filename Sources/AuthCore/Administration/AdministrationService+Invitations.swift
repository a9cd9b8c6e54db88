import AuthCrypto
import Logging

/// Invitations and the email templates they (and password resets) are written with.
extension AdministrationService {
    /// A fresh invitation for a user: its code, the code's row (hashed) and the email,
    /// for the caller to store in the same transaction as whatever causes it.
    public func makeInvitation(
        for userID: UserID,
        email: String,
        attributes: [String: String],
        at now: Timestamp
    ) async throws(AuthError) -> Invitation {
        try await requireInvitationLinks()
        let code = SecretToken.make(prefix: InvitationCode.prefix)
        let validity = configuration.invitationValidity
        let message = try await mail.compose(
            .invitation,
            to: email,
            values: { settings in
                Self.invitationValues(email: email, attributes: attributes, code: code, settings: settings, validity: validity)
            },
            at: now
        )
        let record = NewOneTimeCode(
            userID: userID,
            purpose: .invitation,
            codeHash: SecretToken.hash(code),
            createdAt: now,
            expiresAt: now + validity
        )
        return Invitation(code: code, record: record, email: message)
    }

    /// A new invitation for an existing user; the previous one is void. Returns when it expires.
    public func issueInvitation(userID id: String) async throws(AuthError) -> Timestamp {
        let user = try await user(id: id)
        guard !user.blocked else {
            throw AuthError(.failedPrecondition, "user \(user.id) is blocked; unblock before inviting", field: "id")
        }
        let invitation = try await makeInvitation(for: user.id, email: user.email, attributes: user.attributes, at: clock.now)
        try await storage.issueCode(invitation.record, email: invitation.email)
        logger.info("invitation sent", metadata: ["user": "\(user.id)"])
        return invitation.record.expiresAt
    }

    // MARK: Templates

    public func template(_ kind: TemplateKind) async throws(AuthError) -> EmailTemplate {
        try await directory.snapshot().template(kind)
    }

    public func setTemplate(_ template: EmailTemplate) async throws(AuthError) -> EmailTemplate {
        try EmailTemplates.validate(template, knownAttributes: try await knownTemplateAttributes())
        let stored = StoredEmailTemplate(
            kind: template.kind,
            subject: template.subject,
            textBody: template.textBody,
            htmlBody: template.htmlBody,
            updatedAt: clock.now
        )
        try await directory.change { store throws(AuthError) in try await store.setEmailTemplate(stored) }
        logger.info("email template set", metadata: ["template": "\(template.kind)"])
        var result = template
        result.isDefault = false
        return result
    }

    public func resetTemplate(_ kind: TemplateKind) async throws(AuthError) -> EmailTemplate {
        _ = try await directory.change { store throws(AuthError) in try await store.deleteEmailTemplate(kind: kind) }
        logger.info("email template reset to the built-in one", metadata: ["template": "\(kind)"])
        return EmailTemplates.builtIn(kind)
    }

    /// An invitation is a link to the app: without the app's address there is none, so
    /// nothing is invited until `app_base_url` is set.
    func requireInvitationLinks() async throws(AuthError) {
        guard try await directory.snapshot().settings.linkBase.isEmpty else { return }
        throw AuthError(
            .failedPrecondition,
            "invitations need app_base_url, the address of your app that links point to; set it first (authctl settings set --app-base-url https://app.example)",
            field: "app_base_url"
        )
    }

    /// What an invitation email is rendered with; the preview uses the same.
    static func invitationValues(
        email: String,
        attributes: [String: String],
        code: String,
        settings: Settings,
        validity: Duration
    ) -> TemplateValues {
        let base = settings.linkBase
        return TemplateValues(
            email: email,
            attributes: attributes,
            code: code,
            link: base.isEmpty ? "" : "\(base)/accept-invite?code=\(code)",
            appName: settings.appName,
            appBaseURL: base,
            expiresIn: validity
        )
    }

    /// Attribute names a template may use: the documented ones and every name a user holds.
    func knownTemplateAttributes() async throws(AuthError) -> Set<String> {
        EmailTemplates.documentedAttributes.union(try await storage.attributeNames())
    }

    /// Renders `template` (or the current one) with the values a real email of the kind
    /// gets — the app's name and address from the settings, the kind's real validity —
    /// and sample user values, overridden by `values` ("email", "code", "link",
    /// "attributes.NAME", ...).
    public func previewTemplate(
        _ kind: TemplateKind,
        template: EmailTemplate?,
        values: [String: String]
    ) async throws(AuthError) -> RenderedEmail {
        let snapshot = try await directory.snapshot()
        let chosen: EmailTemplate
        if let template {
            try EmailTemplates.validate(template, knownAttributes: try await knownTemplateAttributes())
            chosen = template
        } else {
            chosen = snapshot.template(kind)
        }
        var settings = snapshot.settings
        if settings.linkBase.isEmpty { settings.appBaseURL = "https://app.example" }
        if let base = values["app_base_url"] { settings.appBaseURL = base }
        if let name = values["app_name"] { settings.appName = name }
        let email = values["email"] ?? "ada@example.com"
        var sample: TemplateValues
        switch kind {
        case .invitation:
            sample = Self.invitationValues(
                email: email, attributes: ["name": "Ada"], code: InvitationCode.prefix + "SAMPLE",
                settings: settings, validity: configuration.invitationValidity)
        case .verificationCode, .emailChangeCode:
            sample = TemplateValues(
                email: email, attributes: ["name": "Ada"], code: "12345678", appName: settings.appName,
                appBaseURL: settings.linkBase, expiresIn: configuration.codes.validity)
        case .emailChangeNotice:
            sample = TemplateValues(
                email: email, attributes: ["name": "Ada"], appName: settings.appName, appBaseURL: settings.linkBase,
                newEmail: "ada.new@example.com")
        }
        if let code = values["code"] { sample.code = code }
        if let newEmail = values["new_email"] { sample.newEmail = newEmail }
        if let link = values["link"] { sample.link = link }
        if let minutes = values["expires_in_minutes"].flatMap(Int64.init) { sample.expiresIn = .seconds(minutes * 60) }
        for (key, value) in values where key.hasPrefix("attributes.") {
            sample.attributes[String(key.dropFirst("attributes.".count))] = value
        }
        return try EmailTemplates.render(chosen, values: sample)
    }

    var mail: OutgoingMail {
        OutgoingMail(directory: directory, throttles: storage, mailsPerMailboxPerHour: configuration.throttles.mailsPerMailboxPerHour)
    }
}
