import AuthCrypto

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
        let code = SecretToken.make(prefix: InvitationCode.prefix)
        let validity = configuration.invitationValidity
        let message = try await mail.compose(
            .invitation,
            to: email,
            values: { settings in
                let base = settings.linkBase
                return TemplateValues(
                    email: email,
                    attributes: attributes,
                    code: code,
                    link: base.isEmpty ? "" : "\(base)/accept-invite?code=\(code)",
                    appBaseURL: base,
                    expiresInMinutes: validity.wholeMilliseconds / 60_000
                )
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
        try EmailTemplates.validate(template)
        let stored = StoredEmailTemplate(
            kind: template.kind,
            subject: template.subject,
            textBody: template.textBody,
            htmlBody: template.htmlBody,
            updatedAt: clock.now
        )
        try await directory.change { store throws(AuthError) in try await store.setEmailTemplate(stored) }
        var result = template
        result.isDefault = false
        return result
    }

    public func resetTemplate(_ kind: TemplateKind) async throws(AuthError) -> EmailTemplate {
        _ = try await directory.change { store throws(AuthError) in try await store.deleteEmailTemplate(kind: kind) }
        return EmailTemplates.builtIn(kind)
    }

    /// Renders `template` (or the current one) with sample values, overridden by `values`
    /// ("email", "code", "link", "attributes.NAME", ...).
    public func previewTemplate(
        _ kind: TemplateKind,
        template: EmailTemplate?,
        values: [String: String]
    ) async throws(AuthError) -> RenderedEmail {
        let chosen: EmailTemplate
        if let template {
            try EmailTemplates.validate(template)
            chosen = template
        } else {
            chosen = try await directory.snapshot().template(kind)
        }
        var sample = TemplateValues(
            email: values["email"] ?? "ada@example.com",
            attributes: ["name": "Ada"],
            code: values["code"] ?? (kind == .invitation ? InvitationCode.prefix + "SAMPLE" : "12345678"),
            link: values["link"] ?? "https://app.example/accept-invite?code=\(InvitationCode.prefix)SAMPLE",
            appBaseURL: values["app_base_url"] ?? "https://app.example",
            expiresInMinutes: Int64(values["expires_in_minutes"] ?? "") ?? 15
        )
        for (key, value) in values where key.hasPrefix("attributes.") {
            sample.attributes[String(key.dropFirst("attributes.".count))] = value
        }
        return try EmailTemplates.render(chosen, values: sample)
    }

    var mail: OutgoingMail {
        OutgoingMail(directory: directory)
    }
}
