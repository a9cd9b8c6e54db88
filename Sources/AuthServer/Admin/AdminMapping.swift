import AuthCore
import AuthWire

// Wire <-> domain for auth.v1.Admin.

extension AuthV1.Role {
    init(_ role: RoleInfo) {
        self.init(name: role.name, userCount: UInt64(role.userCount))
    }
}

extension AuthV1.Group {
    init(_ group: AuthCore.Group) {
        self.init(name: group.name, roles: group.roles)
    }
}

extension AuthV1.PageRule {
    init(_ rule: AuthCore.PageRule) {
        self.init(pattern: rule.pattern, access: AuthV1.PageAccess(rule.access), groups: rule.groups)
    }
}

extension AuthCore.PageRule {
    init(_ rule: AuthV1.PageRule) throws(AuthError) {
        let access: AuthCore.PageAccess
        switch rule.access {
        case .public: access = .public
        case .signedIn: access = .signedIn
        case .groups: access = .groups
        default:
            throw .invalidArgument("access must be PAGE_ACCESS_PUBLIC, _SIGNED_IN or _GROUPS, not \(rule.access)", field: "rule.access")
        }
        self.init(pattern: rule.pattern, access: access, groups: rule.groups)
    }
}

extension AuthV1.Settings {
    init(_ settings: AuthCore.Settings) {
        self.init(
            signInRedirect: settings.signInRedirect,
            forbiddenRedirect: settings.forbiddenRedirect,
            appBaseURL: settings.appBaseURL,
            mailFrom: settings.mailFrom,
            appName: settings.appName,
            unmatchedPageAccess: AuthV1.PageAccess(settings.unmatchedPageAccess),
            pagePathsCaseInsensitive: settings.pagePathsCaseInsensitive,
            redirectOrigins: settings.redirectOrigins
        )
    }
}

extension AuthV1.PageAccess {
    init(_ access: AuthCore.PageAccess) {
        self = switch access {
        case .public: .public
        case .signedIn: .signedIn
        case .groups: .groups
        }
    }
}

extension AuthCore.KeyScope {
    init(_ scope: AuthV1.KeyScope) throws(AuthError) {
        switch scope {
        case .admin: self = .admin
        case .mailer: self = .mailer
        case .service: self = .service
        default:
            throw .invalidArgument("scope must be KEY_SCOPE_ADMIN, _MAILER or _SERVICE, not \(scope)", field: "scope")
        }
    }
}

extension AuthV1.ApiKey {
    init(_ key: APIKey) {
        let scope: AuthV1.KeyScope = switch key.scope {
        case .admin: .admin
        case .mailer: .mailer
        case .service: .service
        }
        self.init(
            id: key.id,
            name: key.name,
            scope: scope,
            createdAtMs: key.createdAt.milliseconds,
            lastUsedAtMs: key.lastUsedAt?.milliseconds ?? 0,
            revoked: key.revokedAt != nil
        )
    }
}

extension AuthCore.TemplateKind {
    init(_ kind: AuthV1.TemplateKind, field: String = "kind") throws(AuthError) {
        switch kind {
        case .invitation: self = .invitation
        case .verificationCode: self = .verificationCode
        case .emailChangeCode: self = .emailChangeCode
        case .emailChangeNotice: self = .emailChangeNotice
        default:
            throw .invalidArgument(
                "kind must be TEMPLATE_KIND_INVITATION, _VERIFICATION_CODE, _EMAIL_CHANGE_CODE or _EMAIL_CHANGE_NOTICE, not \(kind)",
                field: field)
        }
    }
}

extension AuthV1.EmailTemplate {
    init(_ template: AuthCore.EmailTemplate) {
        let kind: AuthV1.TemplateKind = switch template.kind {
        case .invitation: .invitation
        case .verificationCode: .verificationCode
        case .emailChangeCode: .emailChangeCode
        case .emailChangeNotice: .emailChangeNotice
        }
        self.init(kind: kind, subject: template.subject, textBody: template.textBody, htmlBody: template.htmlBody, isDefault: template.isDefault)
    }
}

extension AuthCore.EmailTemplate {
    init(_ template: AuthV1.EmailTemplate) throws(AuthError) {
        self.init(
            kind: try AuthCore.TemplateKind(template.kind, field: "template.kind"),
            subject: template.subject,
            textBody: template.textBody,
            htmlBody: template.htmlBody
        )
    }
}

extension AuthV1.DeadMessage {
    init(_ message: AuthCore.DeadMessage) {
        self.init(
            id: UInt64(message.id),
            recipient: message.recipient,
            subject: message.subject,
            attempts: UInt32(clamping: message.attempts),
            lastError: message.lastError,
            createdAtMs: message.createdAt.milliseconds
        )
    }
}

extension AuthV1.RemoveEverythingResponse {
    init(_ counts: RemovalCounts) {
        self.init(
            usersRemoved: UInt64(counts.users),
            rolesRemoved: UInt64(counts.roles),
            groupsRemoved: UInt64(counts.groups),
            pageRulesRemoved: UInt64(counts.pageRules)
        )
    }
}

extension [AuthCore.Settings.Key: String] {
    /// The settings a request changes: the fields it sets, in the form the store keeps.
    init(_ request: AuthV1.UpdateSettingsRequest) throws(AuthError) {
        self.init()
        self[.signInRedirect] = request.signInRedirect?.value
        self[.forbiddenRedirect] = request.forbiddenRedirect?.value
        self[.appBaseURL] = request.appBaseURL?.value
        self[.mailFrom] = request.mailFrom?.value
        self[.appName] = request.appName?.value
        switch request.unmatchedPageAccess {
        case .unspecified: break
        case .public: self[.unmatchedPageAccess] = AuthCore.PageAccess.public.rawValue
        case .signedIn: self[.unmatchedPageAccess] = AuthCore.PageAccess.signedIn.rawValue
        default:
            throw .invalidArgument(
                "unmatched_page_access must be PAGE_ACCESS_PUBLIC or PAGE_ACCESS_SIGNED_IN, not \(request.unmatchedPageAccess)",
                field: "unmatched_page_access")
        }
        self[.pagePathsCaseInsensitive] = request.pagePathsCaseInsensitive.map { $0.value ? "true" : "false" }
        self[.redirectOrigins] = request.redirectOrigins.map { $0.values.joined(separator: " ") }
    }
}

extension UserImportOptions {
    init(_ options: AuthV1.ImportOptions) throws(AuthError) {
        let policy: ExistingUserPolicy
        switch options.onExisting {
        case .unspecified, .existingUserSkip: policy = .skip
        case .existingUserUpdate: policy = .update
        case .existingUserFail: policy = .fail
        default:
            throw AuthError.invalidArgument("on_existing \(options.onExisting.rawValue) is not a known policy", field: "options.on_existing")
        }
        self.init(
            sendInvitations: options.sendInvitations,
            generatePasswords: options.generatePasswords,
            onExisting: policy,
            dryRun: options.dryRun,
            rolesSeparator: options.rolesSeparator
        )
    }
}

extension AuthV1.ImportUsersResponse {
    /// One result per row, and the totals.
    init(_ rows: [UserImportRow]) {
        self.init()
        self.rows.reserveCapacity(rows.count)
        for row in rows {
            let outcome: AuthV1.ImportRowResult.Outcome
            switch row.outcome {
            case .created: outcome = .created; created += 1
            case .updated: outcome = .updated; updated += 1
            case .skipped: outcome = .skipped; skipped += 1
            case .error: outcome = .error; errors += 1
            }
            self.rows.append(AuthV1.ImportRowResult(
                line: UInt64(row.line), email: row.email, outcome: outcome, reason: row.reason,
                generatedPassword: row.generatedPassword ?? ""))
        }
    }
}
