import AuthCore
import AuthWire

/// Domain values as wire messages. Wire types stop here: handlers hand the domain plain Swift values.
extension AuthV1.User {
    init(_ user: AuthCore.User, groups: [String] = []) {
        self.init(
            id: user.id.rawValue,
            email: user.email,
            attributes: user.attributes,
            roles: user.roles,
            groups: groups,
            blocked: user.blocked,
            hasPassword: user.hasPassword,
            createdAtMs: user.createdAt.milliseconds,
            updatedAtMs: user.updatedAt.milliseconds
        )
    }
}

extension AuthV1.Session {
    init(_ signedIn: SignedIn) {
        self.init(
            token: signedIn.token,
            idleExpiresAtMs: signedIn.session.idleExpiresAt.milliseconds,
            absoluteExpiresAtMs: signedIn.session.absoluteExpiresAt.milliseconds
        )
    }
}

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
        let access: AuthV1.PageAccess = switch rule.access {
        case .public: .public
        case .signedIn: .signedIn
        case .groups: .groups
        }
        self.init(pattern: rule.pattern, access: access, groups: rule.groups)
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
            mailFrom: settings.mailFrom
        )
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

extension AuthV1.AuthorizePageResponse {
    init(_ decision: PageDecision) {
        let reason: Reason = switch decision.reason {
        case .public: .public
        case .signedIn: .signedIn
        case .groupMember: .groupMember
        case .notSignedIn: .notSignedIn
        case .notInGroup: .notInGroup
        }
        self.init(allowed: decision.allowed, reason: reason, redirect: decision.redirect, matchedRule: decision.matchedRule)
    }
}

extension AuthCore.TemplateKind {
    init(_ kind: AuthV1.TemplateKind, field: String = "kind") throws(AuthError) {
        switch kind {
        case .invitation: self = .invitation
        case .verificationCode: self = .verificationCode
        default:
            throw .invalidArgument("kind must be TEMPLATE_KIND_INVITATION or TEMPLATE_KIND_VERIFICATION_CODE, not \(kind)", field: field)
        }
    }
}

extension AuthV1.EmailTemplate {
    init(_ template: AuthCore.EmailTemplate) {
        let kind: AuthV1.TemplateKind = switch template.kind {
        case .invitation: .invitation
        case .verificationCode: .verificationCode
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
