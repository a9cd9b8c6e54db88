public import AuthCrypto
public import Logging

/// Operators' work: users, roles, groups, page rules, settings.
///
/// A stateless flow like `IdentityService`: users live in the store, whose transactions
/// serialise what must be, and everything the directory holds (groups, page rules,
/// settings, templates) is changed through the `Directory`, which drops its snapshot on
/// every change. Any number of admin calls run at once.
public struct AdministrationService: Sendable {
    /// The phrase `removeEverything` insists on.
    public static let removeEverythingConfirmation = "REMOVE EVERYTHING"

    let storage: any Storage
    let directory: Directory
    let hasher: PasswordHasher
    let clock: any WallClock
    let configuration: IdentityConfiguration
    let metrics: DomainMetrics
    let logger: Logger

    public init(
        storage: any Storage,
        directory: Directory,
        hasher: PasswordHasher,
        clock: any WallClock,
        configuration: IdentityConfiguration,
        metrics: DomainMetrics = .disabled,
        logger: Logger
    ) {
        self.storage = storage
        self.directory = directory
        self.hasher = hasher
        self.clock = clock
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
    }

    // MARK: Users

    /// A user made by an operator: a password set by hand, generated (returned once),
    /// or none (the user gets one by invitation or reset).
    public func createUser(
        email rawEmail: String,
        attributes: [String: String],
        password: String?,
        generatePassword: Bool,
        roles: [String],
        sendInvitation: Bool = false
    ) async throws(AuthError) -> (user: User, generatedPassword: String?) {
        let email = try Validation.normalizedEmail(rawEmail)
        try checkAttributes(attributes, field: "attributes")
        if password != nil && generatePassword {
            throw .invalidArgument("give a password or ask for one to be generated, not both", field: "password")
        }
        let roles = try await existingRoles(roles, field: "roles")
        var generated: String?
        var hash: String?
        if let password {
            try Validation.checkPassword(password, policy: configuration.passwords)
            hash = try await hasher.hashForStorage(password)
        } else if generatePassword {
            let secret = Self.generatePassword()
            generated = secret
            hash = try await hasher.hashForStorage(secret)
        }
        let newUser = NewUser(email: email, attributes: attributes, roles: roles, passwordHash: hash, createdAt: clock.now)
        let user: User
        if sendInvitation {
            let invitation = try await makeInvitation(for: newUser.id, email: email, attributes: attributes, at: newUser.createdAt)
            user = try await storage.insertUser(newUser, invitation: invitation.record, email: invitation.email)
        } else {
            user = try await storage.insertUser(newUser, session: nil)
        }
        logger.info("user created by an operator", metadata: ["user": "\(user.id)"])
        return (user, generated)
    }

    /// By id or by email: exactly one.
    public func user(id: String, email: String) async throws(AuthError) -> User {
        switch (id.isEmpty, email.isEmpty) {
        case (false, true):
            return try await user(id: id)
        case (true, false):
            let normalized = try Validation.normalizedEmail(email)
            guard let credentials = try await storage.credentials(email: normalized) else {
                throw AuthError(.notFound, "no user has email \(normalized)", field: "email")
            }
            return credentials.user
        default:
            throw .invalidArgument("give exactly one of id and email", field: "id")
        }
    }

    public func user(id: String) async throws(AuthError) -> User {
        guard let user = try await storage.user(id: UserID(rawValue: id.lowercased())) else {
            throw AuthError(.notFound, "no user has id '\(id)'", field: "id")
        }
        return user
    }

    /// One page, ordered by email; the token continues after its last user.
    public func listUsers(
        filter: UserFilter,
        pageSize: Int,
        pageToken: String
    ) async throws(AuthError) -> (users: [User], nextPageToken: String) {
        let size = try Paging.pageSize(pageSize)
        var filter = filter
        if let prefix = filter.emailPrefix {
            filter.emailPrefix = prefix.trimmingWhitespace().lowercased()
        }
        let after = try Paging.decodeEmailToken(pageToken)
        let users = try await storage.listUsers(filter: filter, afterEmail: after, limit: size + 1)
        let page = Array(users.prefix(size))
        let next = users.count > size ? Paging.emailToken(page.last!.email) : ""
        return (page, next)
    }

    /// The members of group `name` (docs/protocol.md: an unknown group is NOT_FOUND on
    /// the request's field `name`, not on ListUsers' filter field `group`).
    public func listGroupMembers(
        name: String,
        pageSize: Int,
        pageToken: String
    ) async throws(AuthError) -> (users: [User], nextPageToken: String) {
        do {
            return try await listUsers(filter: UserFilter(group: name), pageSize: pageSize, pageToken: pageToken)
        } catch where error.code == .notFound && error.field == "group" {
            throw AuthError(.notFound, "group \(name) not found", field: "name")
        }
    }

    public func updateUser(
        id: String,
        email: String?,
        setAttributes: [String: String],
        removeAttributes: [String],
        password: String?,
        roles: [String]?
    ) async throws(AuthError) -> User {
        let current = try await user(id: id)
        var changes = AdminUserChanges(
            setAttributes: setAttributes, removeAttributes: Set(removeAttributes),
            maximumAttributes: configuration.attributes.maximumCount)
        if let email {
            changes.email = try Validation.normalizedEmail(email)
        }
        try checkAttributes(setAttributes, field: "set_attributes")
        for name in removeAttributes {
            try Validation.checkAttributeName(name, limits: configuration.attributes, field: "remove_attributes")
        }
        var resulting = current.attributes
        for name in removeAttributes { resulting[name] = nil }
        resulting.merge(setAttributes) { _, new in new }
        try Validation.checkAttributeCount(resulting.count, limits: configuration.attributes)
        if let roles {
            changes.roles = try await existingRoles(roles, field: "roles")
        }
        if let password {
            try Validation.checkPassword(password, policy: configuration.passwords)
            changes.passwordHash = try await hasher.hashForStorage(password)
        }
        let now = clock.now
        let newEmail = changes.email.flatMap { $0 == current.email ? nil : $0 }
        if let newEmail {
            // Direct (no code), but never silent: the old address is told, in the same
            // transaction that moves the account, voids its live codes (resets, invitations,
            // a pending self-service change) and so cancels what went to the old address.
            let notice = try await mail.compose(.emailChangeNotice, to: current.email, values: { settings in
                TemplateValues(
                    email: current.email, attributes: current.attributes, appName: settings.appName,
                    appBaseURL: settings.linkBase, newEmail: newEmail)
            }, at: now)
            changes.notices = [notice]
        }
        let updated = try await storage.updateUser(id: current.id, adminChanges: changes, at: now)
        if newEmail != nil {
            logger.info("email changed by an operator; the old address was told, its live codes voided", metadata: ["user": "\(current.id)"])
        }
        logger.info("user updated by an operator", metadata: ["user": "\(current.id)"])
        return updated
    }

    /// Blocking ends every session of the user at once.
    public func setBlocked(id: String, blocked: Bool) async throws(AuthError) -> User {
        let current = try await user(id: id)
        let updated = try await storage.setBlocked(id: current.id, blocked: blocked, at: clock.now)
        logger.info(blocked ? "user blocked" : "user unblocked", metadata: ["user": "\(current.id)"])
        return updated
    }

    public func deleteUser(id: String) async throws(AuthError) {
        guard try await storage.deleteUser(id: UserID(rawValue: id.lowercased())) else {
            throw AuthError(.notFound, "no user has id '\(id)'", field: "id")
        }
        logger.info("user deleted", metadata: ["user": "\(id)"])
    }

    // MARK: Roles and groups

    public func createRole(name: String) async throws(AuthError) -> RoleInfo {
        let name = try Self.checkName(name, of: "role", field: "name")
        let now = clock.now
        let role = try await directory.change { store throws(AuthError) in try await store.createRole(name: name, at: now) }
        logger.info("role created", metadata: ["role": "\(name)"])
        return role
    }

    public func renameRole(name: String, to newName: String) async throws(AuthError) -> RoleInfo {
        let newName = try Self.checkName(newName, of: "role", field: "new_name")
        let role = try await directory.change { store throws(AuthError) in try await store.renameRole(name: name, to: newName) }
        logger.info("role renamed", metadata: ["role": "\(name)", "new-name": "\(newName)"])
        return role
    }

    public func deleteRole(name: String) async throws(AuthError) {
        try await directory.change { store throws(AuthError) in try await store.deleteRole(name: name) }
        logger.info("role deleted", metadata: ["role": "\(name)"])
    }

    public func roles() async throws(AuthError) -> [RoleInfo] {
        try await storage.roles()
    }

    public func createGroup(name: String, roles: [String]) async throws(AuthError) -> Group {
        let name = try Self.checkName(name, of: "group", field: "name")
        let roles = try await existingRoles(roles, field: "roles")
        let now = clock.now
        let group = try await directory.change { store throws(AuthError) in try await store.createGroup(name: name, roles: roles, at: now) }
        logger.info("group created", metadata: ["group": "\(name)", "roles": "\(roles.joined(separator: ","))"])
        return group
    }

    public func renameGroup(name: String, to newName: String) async throws(AuthError) -> Group {
        let newName = try Self.checkName(newName, of: "group", field: "new_name")
        let group = try await directory.change { store throws(AuthError) in try await store.renameGroup(name: name, to: newName) }
        logger.info("group renamed", metadata: ["group": "\(name)", "new-name": "\(newName)"])
        return group
    }

    public func deleteGroup(name: String) async throws(AuthError) {
        try await directory.change { store throws(AuthError) in try await store.deleteGroup(name: name) }
        logger.info("group deleted", metadata: ["group": "\(name)"])
    }

    public func groups() async throws(AuthError) -> [Group] {
        try await directory.snapshot().groups
    }

    public func setGroupRoles(name: String, roles: [String]) async throws(AuthError) -> Group {
        let roles = try await existingRoles(roles, field: "roles")
        let group = try await directory.change { store throws(AuthError) in try await store.setGroupRoles(name: name, roles: roles) }
        logger.info("group roles set", metadata: ["group": "\(name)", "roles": "\(roles.joined(separator: ","))"])
        return group
    }

    // MARK: Page rules and settings

    public func setPageRule(_ rule: PageRule) async throws(AuthError) -> PageRule {
        var rule = rule
        rule.pattern = try PagePattern.validate(rule.pattern)
        switch rule.access {
        case .groups:
            guard !rule.groups.isEmpty else {
                throw .invalidArgument("a rule for groups needs at least one group", field: "rule.groups")
            }
        case .public, .signedIn:
            guard rule.groups.isEmpty else {
                throw .invalidArgument("groups go only with access PAGE_ACCESS_GROUPS", field: "rule.groups")
            }
        }
        rule.groups = Array(Set(rule.groups)).sorted()
        let now = clock.now
        let checked = rule
        let stored = try await directory.change { store throws(AuthError) in try await store.upsertPageRule(checked, at: now) }
        logger.info("page rule set", metadata: [
            "pattern": "\(checked.pattern)", "access": "\(checked.access)", "groups": "\(checked.groups.joined(separator: ","))",
        ])
        return stored
    }

    public func deletePageRule(pattern: String) async throws(AuthError) {
        let deleted = try await directory.change { store throws(AuthError) in try await store.deletePageRule(pattern: pattern) }
        guard deleted else {
            throw AuthError(.notFound, "no page rule has pattern '\(pattern)'", field: "pattern")
        }
        logger.info("page rule deleted", metadata: ["pattern": "\(pattern)"])
    }

    public func pageRules() async throws(AuthError) -> [PageRule] {
        try await directory.snapshot().pageRules
    }

    public func settings() async throws(AuthError) -> Settings {
        try await directory.snapshot().settings
    }

    /// Sets the given settings, each checked (`SettingsRules`); the others stay.
    public func updateSettings(_ changes: [Settings.Key: String]) async throws(AuthError) -> Settings {
        let current = try await directory.snapshot().settings
        let checked = try SettingsRules.check(changes, current: current)
        let stored = try await directory.change { store throws(AuthError) in try await store.updateSettings(checked) }
        // The keys, not the values: settings hold no secret today, but a log is no place to find out.
        logger.info("settings changed", metadata: ["keys": "\(changes.keys.map(\.rawValue).sorted().joined(separator: ","))"])
        return Settings(stored: stored, defaults: configuration.settingsDefaults)
    }

    // MARK: Remove everything

    public func removeEverything(confirmation: String) async throws(AuthError) -> RemovalCounts {
        guard confirmation == Self.removeEverythingConfirmation else {
            throw .invalidArgument(
                "confirmation must be exactly \"\(Self.removeEverythingConfirmation)\"; export first: authctl users list --all --json",
                field: "confirmation"
            )
        }
        let counts = try await directory.change { store throws(AuthError) in try await store.removeEverything() }
        logger.warning(
            "removed everything",
            metadata: ["users": "\(counts.users)", "roles": "\(counts.roles)", "groups": "\(counts.groups)", "pages": "\(counts.pageRules)"]
        )
        return counts
    }

    // MARK: Helpers

    /// 1 to 64 characters, letters, digits, space, "_", "-", "."; trimmed.
    static func checkName(_ raw: String, of kind: String, field: String) throws(AuthError) -> String {
        let name = raw.trimmingWhitespace()
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.".utf8)
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy(allowed.contains), !name.contains("  ") else {
            throw .invalidArgument("\(kind) name '\(raw)' must be 1 to 64 letters, digits, single spaces, _ - or .", field: field)
        }
        return name
    }

    /// `names` deduplicated, each an existing role.
    private func existingRoles(_ names: [String], field: String) async throws(AuthError) -> [String] {
        var unique: [String] = []
        for name in names where !unique.contains(name) { unique.append(name) }
        if let missing = try await storage.missingRoles(unique).first {
            throw .invalidArgument("role '\(missing)' does not exist; create it first", field: field)
        }
        return unique.sorted()
    }

    private func checkAttributes(_ attributes: [String: String], field: String) throws(AuthError) {
        try Validation.checkAttributeCount(attributes.count, limits: configuration.attributes)
        try Validation.checkAttributes(attributes, limits: configuration.attributes, field: field)
    }

    /// 20 characters of base64url: 120 bits.
    static func generatePassword() -> String {
        Base64URL.encode(SecureRandom.bytes(15))
    }
}
