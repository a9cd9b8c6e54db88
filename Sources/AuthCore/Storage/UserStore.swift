/// Users: their profile, password hash, roles and blocked flag.
public protocol UserStore: Sendable {
    /// Stores the user and, in the same transaction, its first session when given.
    func insertUser(_ user: NewUser, session: NewSession?) async throws(AuthError) -> User

    /// Stores the user, its invitation code (voiding none: the user is new) and the
    /// invitation email, in one transaction.
    func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User

    func user(id: UserID) async throws(AuthError) -> User?

    /// `email` is already normalised.
    func credentials(email: String) async throws(AuthError) -> UserCredentials?

    func credentials(id: UserID) async throws(AuthError) -> UserCredentials?

    /// Applies a profile change and bumps `updatedAt`.
    func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User

    /// Applies `changes` in one transaction: a new email (unique), attributes, roles
    /// (every one must exist: `.invalidArgument` naming the first missing, field "roles"),
    /// and a new password hash, which ends every session of the user.
    func updateUser(id: UserID, adminChanges changes: AdminUserChanges, at now: Timestamp) async throws(AuthError) -> User

    /// Replaces the password hash and ends the sessions `revoking` names, in one transaction.
    func setPasswordHash(userID: UserID, hash: String, revoking: SessionRevocation, at now: Timestamp) async throws(AuthError)

    /// Blocking ends every session of the user in the same transaction.
    func setBlocked(id: UserID, blocked: Bool, at now: Timestamp) async throws(AuthError) -> User

    /// Deletes the user with its attributes, roles, sessions and codes; false when absent.
    func deleteUser(id: UserID) async throws(AuthError) -> Bool

    /// Users matching `filter`, ordered by email, starting after `afterEmail`.
    func listUsers(filter: UserFilter, afterEmail: String?, limit: Int) async throws(AuthError) -> [User]

    /// Those of `emails` (normalised) that belong to a user, in one read.
    func existingEmails(_ emails: [String]) async throws(AuthError) -> Set<String>

    /// Every attribute name any user holds, sorted.
    func attributeNames() async throws(AuthError) -> [String]
}
