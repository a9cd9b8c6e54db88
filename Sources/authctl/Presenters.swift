import AuthClient

// JSON shapes and text for people of the Admin service's messages. JSON names are
// the proto field names (snake_case); enums use the CLI's words (admin, signed-in).

extension AuthV1.User {
    var json: JSON {
        .object([
            ("id", .string(id)),
            ("email", .string(email)),
            ("attributes", .map(attributes)),
            ("roles", .strings(roles)),
            ("groups", .strings(groups)),
            ("blocked", .bool(blocked)),
            ("has_password", .bool(hasPassword)),
            ("created_at_ms", .int(createdAtMs)),
            ("updated_at_ms", .int(updatedAtMs)),
        ])
    }

    var text: String {
        var pairs: [(String, String)] = [
            ("id", id),
            ("email", email),
            ("roles", list(roles)),
            ("groups", list(groups)),
            ("blocked", yesNo(blocked)),
            ("password", hasPassword ? "set" : "none"),
            ("created", formatTime(createdAtMs)),
            ("updated", formatTime(updatedAtMs)),
        ]
        for name in attributes.keys.sorted() {
            pairs.append(("attribute \(name)", attributes[name]!))
        }
        return fields(pairs)
    }
}

func usersTable(_ users: [AuthV1.User]) -> String {
    table(
        ["ID", "EMAIL", "ROLES", "GROUPS", "BLOCKED", "PASSWORD"],
        users.map { [$0.id, $0.email, list($0.roles), list($0.groups), yesNo($0.blocked), $0.hasPassword ? "set" : "none"] })
}

/// The user of a response that must carry one.
func requireUser(_ user: AuthV1.User?) throws -> AuthV1.User {
    guard let user else { throw RPCError(code: .internal, message: "the server's response carries no user") }
    return user
}

extension AuthV1.Role {
    var json: JSON { .object([("name", .string(name)), ("user_count", .uint(userCount))]) }
}

extension AuthV1.Group {
    var json: JSON { .object([("name", .string(name)), ("roles", .strings(roles))]) }
    var text: String { fields([("group", name), ("roles", list(roles))]) }
}

func requireGroup(_ group: AuthV1.Group?) throws -> AuthV1.Group {
    guard let group else { throw RPCError(code: .internal, message: "the server's response carries no group") }
    return group
}

extension AuthV1.PageAccess {
    var word: String {
        switch self {
        case .public: "public"
        case .signedIn: "signed-in"
        case .groups: "groups"
        default: description
        }
    }
}

extension AuthV1.PageRule {
    var json: JSON {
        .object([("pattern", .string(pattern)), ("access", .string(access.word)), ("groups", .strings(groups))])
    }
}

func pageRulesTable(_ rules: [AuthV1.PageRule]) -> String {
    table(["PATTERN", "ACCESS", "GROUPS"], rules.map { [$0.pattern, $0.access.word, list($0.groups)] })
}

extension AuthV1.Settings {
    var json: JSON {
        .object([
            ("sign_in_redirect", .string(signInRedirect)),
            ("forbidden_redirect", .string(forbiddenRedirect)),
            ("app_base_url", .string(appBaseURL)),
            ("mail_from", .string(mailFrom)),
            ("app_name", .string(appName)),
            ("unmatched_page_access", .string(unmatchedPageAccess.word)),
            ("page_paths_case_insensitive", .bool(pagePathsCaseInsensitive)),
            ("redirect_origins", .array(redirectOrigins.map(JSON.string))),
        ])
    }

    var text: String {
        func show(_ value: String) -> String { value.isEmpty ? "-" : value }
        return fields([
            ("sign-in redirect", show(signInRedirect)),
            ("forbidden redirect", show(forbiddenRedirect)),
            ("app base url", show(appBaseURL)),
            ("mail from", show(mailFrom)),
            ("app name", show(appName)),
            ("unmatched pages", unmatchedPageAccess.word),
            ("page paths", pagePathsCaseInsensitive ? "case-insensitive" : "case-sensitive"),
            ("redirect origins", redirectOrigins.isEmpty ? "-" : redirectOrigins.joined(separator: " ")),
        ])
    }
}

extension AuthV1.KeyScope {
    var word: String {
        switch self {
        case .admin: "admin"
        case .mailer: "mailer"
        case .service: "service"
        default: description
        }
    }
}

extension AuthV1.ApiKey {
    var json: JSON {
        .object([
            ("id", .string(id)),
            ("name", .string(name)),
            ("scope", .string(scope.word)),
            ("created_at_ms", .int(createdAtMs)),
            ("last_used_at_ms", .int(lastUsedAtMs)),
            ("revoked", .bool(revoked)),
        ])
    }
}

func keysTable(_ keys: [AuthV1.ApiKey]) -> String {
    table(
        ["ID", "NAME", "SCOPE", "CREATED", "LAST USED", "REVOKED"],
        keys.map { [$0.id, $0.name, $0.scope.word, formatTime($0.createdAtMs), formatTime($0.lastUsedAtMs), yesNo($0.revoked)] })
}
