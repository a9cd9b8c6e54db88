import ArgumentParser
import AuthClient

// MARK: - Page rules

struct Pages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pages",
        abstract: "Page rules: who may open a path (exact /pricing, prefix /admin/*, parameter /cars/:id).",
        subcommands: [PagesSet.self, PagesDelete.self, PagesList.self]
    )
}

enum AccessArgument: String, ExpressibleByArgument, CaseIterable {
    case `public`
    case signedIn = "signed-in"
    case groups

    var access: AuthV1.PageAccess {
        switch self {
        case .public: .public
        case .signedIn: .signedIn
        case .groups: .groups
        }
    }
}

struct PagesSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Create or replace the rule of a path pattern."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The path pattern: /pricing, /admin/* or /cars/:id.")
    var pattern: String

    @Option(help: "Who may open it.")
    var access: AccessArgument

    @Option(name: .customLong("group"), help: ArgumentHelp("With --access groups: a group whose members may open it; repeat for more.", valueName: "group"))
    var groups: [String] = []

    func validate() throws {
        if access == .groups, groups.isEmpty {
            throw ValidationError("--access groups needs at least one --group")
        }
        if access != .groups, !groups.isEmpty {
            throw ValidationError("--group is only for --access groups")
        }
    }

    func run() async throws {
        let rule = AuthV1.PageRule(pattern: pattern, access: access.access, groups: groups)
        let saved = try await global.withAdmin { admin in
            try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: rule))
        }
        global.emit(json: .object([("rule", saved.json)]), text: pageRulesTable([saved]))
    }
}

struct PagesDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete the rule of a path pattern.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The path pattern, as it was set.")
    var pattern: String

    func run() async throws {
        _ = try await global.withAdmin { admin in
            try await admin.deletePageRule(AuthV1.PageRuleRequest(pattern: pattern))
        }
        global.emit(json: .object([("deleted", .string(pattern))]), text: "Deleted the rule of \(pattern).")
    }
}

struct PagesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List page rules.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let rules = try await global.withAdmin { admin in
            try await admin.listPageRules(AuthV1.Empty()).rules
        }
        global.emit(
            json: .object([("rules", .array(rules.map(\.json)))]),
            text: pageRulesTable(rules) + (rules.isEmpty ? "\n(none)" : ""))
    }
}

// MARK: - Settings

struct SettingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Redirects and defaults of page gating, the app's name and address in emails, the sender of emails.",
        subcommands: [SettingsGet.self, SettingsSet.self]
    )
}

struct SettingsGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show the settings.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let settings = try await global.withAdmin { admin in
            try await admin.getSettings(AuthV1.Empty()).settings ?? AuthV1.Settings()
        }
        global.emit(json: .object([("settings", settings.json)]), text: settings.text)
    }
}

struct SettingsSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change some settings; the others stay as they are (\"\" clears one)."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Option(help: ArgumentHelp("Where a visitor who is not signed in goes, e.g. /login.", valueName: "url"))
    var signInRedirect: String?

    @Option(help: ArgumentHelp("Where a signed-in user who lacks the group goes, e.g. /upgrade.", valueName: "url"))
    var forbiddenRedirect: String?

    @Option(help: ArgumentHelp("Base of links in emails, e.g. https://cars.example.", valueName: "url"))
    var appBaseUrl: String?

    @Option(help: ArgumentHelp("Sender of emails, e.g. \"Cars <no-reply@cars.example>\".", valueName: "from"))
    var mailFrom: String?

    @Option(help: ArgumentHelp("The app's name in the subject and body of every email, e.g. Cars.", valueName: "name"))
    var appName: String?

    @Option(help: ArgumentHelp("What a path no page rule matches gets: public (the default) or signed-in.", valueName: "access"))
    var unmatchedPages: UnmatchedAccessArgument?

    @Option(help: ArgumentHelp("Match page paths regardless of letter case (for routers that ignore it): true or false.", valueName: "bool"))
    var pagePathsCaseInsensitive: Bool?

    @Option(name: .customLong("redirect-origin"), help: ArgumentHelp(
        "An origin (https://shop.example) redirects may point to; repeat for more. Replaces the list; --redirect-origin \"\" clears it.",
        valueName: "origin"))
    var redirectOrigins: [String] = []

    func validate() throws {
        if signInRedirect == nil, forbiddenRedirect == nil, appBaseUrl == nil, mailFrom == nil, appName == nil,
            unmatchedPages == nil, pagePathsCaseInsensitive == nil, redirectOrigins.isEmpty
        {
            throw ValidationError(
                "nothing to change: give --sign-in-redirect, --forbidden-redirect, --app-base-url, --mail-from, --app-name, --unmatched-pages, --page-paths-case-insensitive or --redirect-origin")
        }
    }

    func run() async throws {
        let origins = redirectOrigins.filter { !$0.isEmpty }
        let request = AuthV1.UpdateSettingsRequest(
            signInRedirect: signInRedirect.map { AuthV1.StringValue(value: $0) },
            forbiddenRedirect: forbiddenRedirect.map { AuthV1.StringValue(value: $0) },
            appBaseURL: appBaseUrl.map { AuthV1.StringValue(value: $0) },
            mailFrom: mailFrom.map { AuthV1.StringValue(value: $0) },
            appName: appName.map { AuthV1.StringValue(value: $0) },
            unmatchedPageAccess: unmatchedPages?.access ?? .unspecified,
            pagePathsCaseInsensitive: pagePathsCaseInsensitive.map { AuthV1.BoolValue(value: $0) },
            redirectOrigins: redirectOrigins.isEmpty ? nil : AuthV1.StringList(values: origins))
        let settings = try await global.withAdmin { admin in
            try await admin.updateSettings(request).settings ?? AuthV1.Settings()
        }
        global.emit(json: .object([("settings", settings.json)]), text: settings.text)
    }
}

// MARK: - API keys

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "API keys: admin (this CLI), mailer (the mail worker), service (backends calling Auth).",
        subcommands: [KeysCreate.self, KeysList.self, KeysRevoke.self]
    )
}

enum UnmatchedAccessArgument: String, ExpressibleByArgument, CaseIterable {
    case `public`
    case signedIn = "signed-in"

    var access: AuthV1.PageAccess {
        switch self {
        case .public: .public
        case .signedIn: .signedIn
        }
    }
}

enum ScopeArgument: String, ExpressibleByArgument, CaseIterable {
    case admin, mailer, service

    var scope: AuthV1.KeyScope {
        switch self {
        case .admin: .admin
        case .mailer: .mailer
        case .service: .service
        }
    }
}

struct KeysCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an API key and print its secret once."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "A name that says who uses the key.")
    var name: String

    @Option(help: "What the key may call.")
    var scope: ScopeArgument

    func run() async throws {
        let request = AuthV1.CreateApiKeyRequest(name: name, scope: scope.scope)
        let response = try await global.withAdmin { admin in
            try await admin.createApiKey(request)
        }
        let key = response.key ?? AuthV1.ApiKey()
        global.emit(
            json: .object([("key", key.json), ("secret", .string(response.secret))]),
            text: keysTable([key]) + "\n\nSecret (shown once, store it now): \(response.secret)")
    }
}

struct KeysList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List API keys (never their secrets).")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let keys = try await global.withAdmin { admin in
            try await admin.listApiKeys(AuthV1.Empty()).keys
        }
        global.emit(
            json: .object([("keys", .array(keys.map(\.json)))]),
            text: keysTable(keys) + (keys.isEmpty ? "\n(none)" : ""))
    }
}

struct KeysRevoke: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke an API key: calls with it fail from now on."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The key's id (from keys list).")
    var id: String

    func run() async throws {
        _ = try await global.withAdmin { admin in
            try await admin.revokeApiKey(AuthV1.RevokeApiKeyRequest(id: id))
        }
        global.emit(json: .object([("revoked", .string(id))]), text: "Revoked key \(id).")
    }
}

// MARK: - Remove everything

struct RemoveEverything: AsyncParsableCommand {
    static let phrase = "REMOVE EVERYTHING"

    static let configuration = CommandConfiguration(
        commandName: "remove-everything",
        abstract: "Delete every user, role, group and page rule.",
        discussion: """
            There is no undo. Keep a copy first: authctl users list --all --json > users.json
            """
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Option(help: ArgumentHelp("Must be exactly \"\(RemoveEverything.phrase)\".", valueName: "phrase"))
    var confirm: String?

    func validate() throws {
        guard confirm == Self.phrase else {
            throw ValidationError("""
                this deletes every user, role, group and page rule; confirm with --confirm "\(Self.phrase)". \
                Keep a copy first: authctl users list --all --json > users.json
                """)
        }
    }

    func run() async throws {
        let response = try await global.withAdmin { admin in
            try await admin.removeEverything(AuthV1.RemoveEverythingRequest(confirmation: Self.phrase))
        }
        global.emit(
            json: .object([
                ("users_removed", .uint(response.usersRemoved)),
                ("roles_removed", .uint(response.rolesRemoved)),
                ("groups_removed", .uint(response.groupsRemoved)),
                ("page_rules_removed", .uint(response.pageRulesRemoved)),
            ]),
            text: "Removed \(response.usersRemoved) users, \(response.rolesRemoved) roles, "
                + "\(response.groupsRemoved) groups and \(response.pageRulesRemoved) page rules.")
    }
}
