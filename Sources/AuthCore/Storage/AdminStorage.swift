/// What the Admin service needs from a database, beyond `AuthStorage`. Same rules:
/// one transaction per method; `.notFound` for a named thing that does not exist,
/// `.alreadyExists` (with `field`) for a taken name or email.
public protocol AdminStorage: AuthStorage {
    // MARK: API keys

    func insertAPIKey(_ key: NewAPIKey) async throws(AuthError)

    /// The key with this secret hash, revoked or not; nil when there is none.
    func apiKey(secretHash: [UInt8]) async throws(AuthError) -> APIKey?

    /// Records use (callers do it at most once a minute per key).
    func touchAPIKey(id: String, at now: Timestamp) async throws(AuthError)

    /// Every key, oldest first.
    func apiKeys() async throws(AuthError) -> [APIKey]

    /// False when no unrevoked key has this id.
    func revokeAPIKey(id: String, at now: Timestamp) async throws(AuthError) -> Bool

    /// Keys ever created, revoked ones included: zero means a first start.
    func apiKeyCount() async throws(AuthError) -> Int

    // MARK: Users

    /// Users matching `filter`, ordered by email, starting after `afterEmail`.
    func listUsers(filter: UserFilter, afterEmail: String?, limit: Int) async throws(AuthError) -> [User]

    /// Applies `changes` in one transaction: a new email (unique), attributes, roles
    /// (every one must exist: `.invalidArgument` naming the first missing, field "roles"),
    /// and a new password hash, which ends every session of the user.
    func updateUser(id: UserID, adminChanges changes: AdminUserChanges, at now: Timestamp) async throws(AuthError) -> User

    /// Blocking ends every session of the user in the same transaction.
    func setBlocked(id: UserID, blocked: Bool, at now: Timestamp) async throws(AuthError) -> User

    /// Deletes the user with its attributes, roles, sessions and codes; false when absent.
    func deleteUser(id: UserID) async throws(AuthError) -> Bool

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

    // MARK: Page rules and settings

    /// Creates or replaces the rule for `rule.pattern`; every group must exist
    /// (`.invalidArgument`, field "rule.groups").
    func upsertPageRule(_ rule: PageRule, at now: Timestamp) async throws(AuthError) -> PageRule

    func deletePageRule(pattern: String) async throws(AuthError) -> Bool

    func pageRules() async throws(AuthError) -> [PageRule]

    /// Sets the given keys, leaves the others.
    func updateSettings(_ values: [String: String]) async throws(AuthError) -> [String: String]

    // MARK: Remove everything

    /// Users (with sessions, codes), roles, groups and page rules, in one transaction.
    /// Keys, settings, templates and the outbox stay.
    func removeEverything() async throws(AuthError) -> RemovalCounts

    // MARK: Invitations and templates

    /// Stores the user, its invitation code (voiding none: the user is new) and the
    /// invitation email, in one transaction.
    func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User

    func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError)

    /// Back to the built-in template; false when none was stored.
    func deleteEmailTemplate(kind: String) async throws(AuthError) -> Bool

    // MARK: Import and export

    /// Those of `emails` (normalised) that belong to a user, in one read.
    func existingEmails(_ emails: [String]) async throws(AuthError) -> Set<String>

    /// Every attribute name any user holds, sorted.
    func attributeNames() async throws(AuthError) -> [String]

    /// One write transaction for the whole batch: each user is created, or, when its email
    /// exists, skipped, updated or reported `.exists` by `onExisting`; one outcome per user,
    /// in order. Every role must exist (`.invalidArgument`, field "roles", fails the batch).
    /// An update sets the given attributes (others stay), replaces roles when given, sets
    /// the password hash and blocked flag when given; a new hash or blocking ends the user's
    /// sessions.
    func importUsers(_ users: [ImportedUser], onExisting: ExistingUserPolicy, at now: Timestamp) async throws(AuthError) -> [ImportWriteOutcome]
}
