/// What the operator configures and every call reads: roles, groups, page rules,
/// settings and email templates. `Directory` keeps a snapshot of it in memory.
public protocol DirectoryStore: Sendable {
    // MARK: Roles

    func createRole(name: String, at now: Timestamp) async throws(AuthError) -> RoleInfo

    func renameRole(name: String, to newName: String) async throws(AuthError) -> RoleInfo

    /// Removes the role from every user. Refused with `.failedPrecondition` (naming them)
    /// while a group uses it: dropping a role from a group would silently change who is
    /// in it.
    func deleteRole(name: String) async throws(AuthError)

    /// Every role with how many users hold it, by name.
    func roles() async throws(AuthError) -> [RoleInfo]

    /// Those of `names` that are not roles, in the order given.
    func missingRoles(_ names: [String]) async throws(AuthError) -> [String]

    // MARK: Groups

    /// Every role must exist (`.invalidArgument`, field "roles").
    func createGroup(name: String, roles: [String], at now: Timestamp) async throws(AuthError) -> Group

    func renameGroup(name: String, to newName: String) async throws(AuthError) -> Group

    /// Also removes the group from page rules' group lists.
    func deleteGroup(name: String) async throws(AuthError)

    /// Every group, by name.
    func groups() async throws(AuthError) -> [Group]

    func setGroupRoles(name: String, roles: [String]) async throws(AuthError) -> Group

    // MARK: Page rules

    /// Creates or replaces the rule for `rule.pattern`; every group must exist
    /// (`.invalidArgument`, field "rule.groups").
    func upsertPageRule(_ rule: PageRule, at now: Timestamp) async throws(AuthError) -> PageRule

    func deletePageRule(pattern: String) async throws(AuthError) -> Bool

    func pageRules() async throws(AuthError) -> [PageRule]

    // MARK: Settings and templates

    /// The settings an operator set; a key never set is absent.
    func settings() async throws(AuthError) -> [Settings.Key: String]

    /// Sets the given keys, leaves the others; returns every key set.
    func updateSettings(_ values: [Settings.Key: String]) async throws(AuthError) -> [Settings.Key: String]

    /// The operator's version of a template; nil means the built-in one.
    func emailTemplate(kind: TemplateKind) async throws(AuthError) -> StoredEmailTemplate?

    func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError)

    /// Back to the built-in template; false when none was stored.
    func deleteEmailTemplate(kind: TemplateKind) async throws(AuthError) -> Bool

    // MARK: Remove everything

    /// Users (with sessions, codes), roles, groups and page rules, in one transaction.
    /// Keys, settings, templates and the outbox stay.
    func removeEverything() async throws(AuthError) -> RemovalCounts
}
