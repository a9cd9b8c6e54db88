/// The store, with the session cache kept true: every write that can change what a cached
/// session holds (its user's profile, roles, password, blocked flag, existence; the session
/// itself) drops the entries it touches before it returns. Writes go through here and
/// nowhere else, so a new write path cannot forget the cache by accident: it is in this
/// list or it does not touch users or sessions.
///
/// With a `feed` (several processes on one database), each such write is also announced,
/// before it returns, so that the other processes forget it too; directory writes are
/// announced as `.directory` for the other processes' `Directory`.
public struct CachingStorage: Storage {
    let base: any Storage
    let cache: SessionCache
    let feed: (any SharedChangeFeed)?

    public init(_ base: any Storage, cache: SessionCache, feed: (any SharedChangeFeed)? = nil) {
        self.base = base
        self.cache = cache
        self.feed = feed
    }

    /// Runs `write`, then forgets what `change` names here and tells the other processes,
    /// also when the write failed (a failed transaction changed nothing, but forgetting is
    /// the safe side).
    private func changing<T>(_ change: SharedChange, _ write: () async throws(AuthError) -> T) async throws(AuthError) -> T {
        let result: Result<T, AuthError>
        do {
            result = .success(try await write())
        } catch {
            result = .failure(error)
        }
        cache.forget(change)
        if let feed {
            // Not cancelled with the caller: a call cancelled after its write committed
            // (a deadline, a lost connection) must still tell the other processes.
            await Task { await feed.announce(change) }.value
        }
        return try result.get()
    }

    /// A directory write: the local `Directory` drops its own snapshot (`Directory.change`);
    /// the other processes are told.
    private func changingDirectory<T>(_ write: () async throws(AuthError) -> T) async throws(AuthError) -> T {
        try await changing(.directory, write)
    }

    // MARK: UserStore

    public func insertUser(_ user: NewUser, session: NewSession?) async throws(AuthError) -> User {
        try await base.insertUser(user, session: session)
    }

    public func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User {
        try await base.insertUser(user, invitation: invitation, email: email)
    }

    public func user(id: UserID) async throws(AuthError) -> User? {
        try await base.user(id: id)
    }

    public func credentials(email: String) async throws(AuthError) -> UserCredentials? {
        try await base.credentials(email: email)
    }

    public func credentials(id: UserID) async throws(AuthError) -> UserCredentials? {
        try await base.credentials(id: id)
    }

    public func updateUser(id: UserID, changes: UserChanges, at now: Timestamp) async throws(AuthError) -> User {
        return try await changing(.sessionsOf(id)) { () async throws(AuthError) in try await base.updateUser(id: id, changes: changes, at: now) }
    }

    public func updateUser(id: UserID, adminChanges changes: AdminUserChanges, at now: Timestamp) async throws(AuthError) -> User {
        return try await changing(.sessionsOf(id)) { () async throws(AuthError) in try await base.updateUser(id: id, adminChanges: changes, at: now) }
    }

    public func setPasswordHash(userID: UserID, hash: String, revoking: SessionRevocation, at now: Timestamp) async throws(AuthError) {
        try await changing(.sessionsOf(userID)) { () async throws(AuthError) in try await base.setPasswordHash(userID: userID, hash: hash, revoking: revoking, at: now) }
    }

    public func setBlocked(id: UserID, blocked: Bool, at now: Timestamp) async throws(AuthError) -> User {
        return try await changing(.sessionsOf(id)) { () async throws(AuthError) in try await base.setBlocked(id: id, blocked: blocked, at: now) }
    }

    public func deleteUser(id: UserID) async throws(AuthError) -> Bool {
        return try await changing(.sessionsOf(id)) { () async throws(AuthError) in try await base.deleteUser(id: id) }
    }

    public func listUsers(filter: UserFilter, afterEmail: String?, limit: Int) async throws(AuthError) -> [User] {
        try await base.listUsers(filter: filter, afterEmail: afterEmail, limit: limit)
    }

    public func existingEmails(_ emails: [String]) async throws(AuthError) -> Set<String> {
        try await base.existingEmails(emails)
    }

    public func attributeNames() async throws(AuthError) -> [String] {
        try await base.attributeNames()
    }


    // MARK: SessionStore

    public func insertSession(_ session: NewSession) async throws(AuthError) -> SessionRecord {
        try await base.insertSession(session)
    }

    public func authenticate(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> AuthenticatedSession? {
        try await base.authenticate(tokenHash: tokenHash, at: now)
    }

    public func touchSessions(_ touches: [SessionTouch]) async throws(AuthError) {
        try await base.touchSessions(touches)
    }

    public func revokeSession(tokenHash: [UInt8], at now: Timestamp) async throws(AuthError) -> Bool {
        return try await changing(.session(tokenHash: tokenHash)) { () async throws(AuthError) in try await base.revokeSession(tokenHash: tokenHash, at: now) }
    }

    public func revokeSessions(userID: UserID, revoking: SessionRevocation, at now: Timestamp) async throws(AuthError) -> Int {
        return try await changing(.sessionsOf(userID)) { () async throws(AuthError) in try await base.revokeSessions(userID: userID, revoking: revoking, at: now) }
    }

    public func deleteSessions(endedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await base.deleteSessions(endedBefore: cutoff)
    }


    // MARK: CodeStore

    public func issueCode(_ code: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) {
        try await base.issueCode(code, email: email)
    }

    public func redeemPasswordResetCode(userID: UserID, codeHash: [UInt8], newPasswordHash: String, maxAttempts: Int, at now: Timestamp) async throws(AuthError) -> CodeCheck {
        return try await changing(.sessionsOf(userID)) { () async throws(AuthError) in try await base.redeemPasswordResetCode(userID: userID, codeHash: codeHash, newPasswordHash: newPasswordHash, maxAttempts: maxAttempts, at: now) }
    }

    public func invitation(codeHash: [UInt8], at now: Timestamp) async throws(AuthError) -> UserID? {
        try await base.invitation(codeHash: codeHash, at: now)
    }

    public func redeemInvitation(userID: UserID, codeHash: [UInt8], passwordHash: String, session: NewSession, at now: Timestamp) async throws(AuthError) -> CodeCheck {
        return try await changing(.sessionsOf(userID)) { () async throws(AuthError) in try await base.redeemInvitation(userID: userID, codeHash: codeHash, passwordHash: passwordHash, session: session, at: now) }
    }

    public func issueEmailChange(_ code: NewOneTimeCode, emails: [NewOutboxMessage]) async throws(AuthError) {
        try await base.issueEmailChange(code, emails: emails)
    }

    public func redeemEmailChangeCode(userID: UserID, codeHash: [UInt8], maxAttempts: Int, at now: Timestamp) async throws(AuthError) -> EmailChangeCheck {
        return try await changing(.sessionsOf(userID)) { () async throws(AuthError) in try await base.redeemEmailChangeCode(userID: userID, codeHash: codeHash, maxAttempts: maxAttempts, at: now) }
    }

    public func issueDecoyCode(codeHash: [UInt8], email: NewOutboxMessage) async throws(AuthError) {
        try await base.issueDecoyCode(codeHash: codeHash, email: email)
    }

    public func deleteCodes(finishedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await base.deleteCodes(finishedBefore: cutoff)
    }


    // MARK: ThrottleStore

    public func throttle(key: ThrottleKey) async throws(AuthError) -> ThrottleRecord? {
        try await base.throttle(key: key)
    }

    public func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) async throws(AuthError) -> ThrottleRecord {
        try await base.recordFailure(key: key, window: window, at: now)
    }

    public func clearFailures(key: ThrottleKey) async throws(AuthError) {
        try await base.clearFailures(key: key)
    }

    public func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) async throws(AuthError) -> ThrottleVerdict {
        try await base.reserveAttempt(reservations, at: now)
    }

    public func forgiveFailure(key: ThrottleKey) async throws(AuthError) {
        try await base.forgiveFailure(key: key)
    }

    public func deleteThrottles(idleSince cutoff: Timestamp) async throws(AuthError) -> Int {
        try await base.deleteThrottles(idleSince: cutoff)
    }


    // MARK: OutboxStore

    public func leaseMessages(workerID: String, limit: Int, leaseUntil: Timestamp, maximumAttempts: Int, at now: Timestamp) async throws(AuthError) -> [OutboxLease] {
        try await base.leaseMessages(workerID: workerID, limit: limit, leaseUntil: leaseUntil, maximumAttempts: maximumAttempts, at: now)
    }

    public func acknowledge(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await base.acknowledge(leases, at: now)
    }

    public func reportFailure(_ lease: LeaseReference, permanent: Bool, reason: String, maximumAttempts: Int, retryAt: @escaping @Sendable (Int) -> Timestamp, at now: Timestamp) async throws(AuthError) -> FailureOutcome {
        try await base.reportFailure(lease, permanent: permanent, reason: reason, maximumAttempts: maximumAttempts, retryAt: retryAt, at: now)
    }

    public func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await base.renewLeases(leases, until: until, at: now)
    }

    public func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) async throws(AuthError) -> [Int64] {
        try await base.releaseLeases(leases, at: now)
    }

    public func queueStatistics(at now: Timestamp) async throws(AuthError) -> QueueStatistics {
        try await base.queueStatistics(at: now)
    }

    public func deadMessages(afterID: Int64?, limit: Int) async throws(AuthError) -> [DeadMessage] {
        try await base.deadMessages(afterID: afterID, limit: limit)
    }

    public func requeueDeadMessages(ids: [Int64], at now: Timestamp) async throws(AuthError) -> Int {
        try await base.requeueDeadMessages(ids: ids, at: now)
    }

    public func deleteSentMessages(sentBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await base.deleteSentMessages(sentBefore: cutoff)
    }


    // MARK: DirectoryStore

    public func createRole(name: String, at now: Timestamp) async throws(AuthError) -> RoleInfo {
        try await base.createRole(name: name, at: now)
    }

    public func renameRole(name: String, to newName: String) async throws(AuthError) -> RoleInfo {
        return try await changing(.everything) { () async throws(AuthError) in try await base.renameRole(name: name, to: newName) }
    }

    public func deleteRole(name: String) async throws(AuthError) {
        try await changing(.everything) { () async throws(AuthError) in try await base.deleteRole(name: name) }
    }

    public func roles() async throws(AuthError) -> [RoleInfo] {
        try await base.roles()
    }

    public func missingRoles(_ names: [String]) async throws(AuthError) -> [String] {
        try await base.missingRoles(names)
    }

    public func createGroup(name: String, roles: [String], at now: Timestamp) async throws(AuthError) -> Group {
        try await changingDirectory { () async throws(AuthError) in try await base.createGroup(name: name, roles: roles, at: now) }
    }

    public func renameGroup(name: String, to newName: String) async throws(AuthError) -> Group {
        try await changingDirectory { () async throws(AuthError) in try await base.renameGroup(name: name, to: newName) }
    }

    public func deleteGroup(name: String) async throws(AuthError) {
        try await changingDirectory { () async throws(AuthError) in try await base.deleteGroup(name: name) }
    }

    public func groups() async throws(AuthError) -> [Group] {
        try await base.groups()
    }

    public func setGroupRoles(name: String, roles: [String]) async throws(AuthError) -> Group {
        try await changingDirectory { () async throws(AuthError) in try await base.setGroupRoles(name: name, roles: roles) }
    }

    public func upsertPageRule(_ rule: PageRule, at now: Timestamp) async throws(AuthError) -> PageRule {
        try await changingDirectory { () async throws(AuthError) in try await base.upsertPageRule(rule, at: now) }
    }

    public func deletePageRule(pattern: String) async throws(AuthError) -> Bool {
        try await changingDirectory { () async throws(AuthError) in try await base.deletePageRule(pattern: pattern) }
    }

    public func pageRules() async throws(AuthError) -> [PageRule] {
        try await base.pageRules()
    }

    public func settings() async throws(AuthError) -> [Settings.Key: String] {
        try await base.settings()
    }

    public func updateSettings(_ values: [Settings.Key: String]) async throws(AuthError) -> [Settings.Key: String] {
        try await changingDirectory { () async throws(AuthError) in try await base.updateSettings(values) }
    }

    public func emailTemplate(kind: TemplateKind) async throws(AuthError) -> StoredEmailTemplate? {
        try await base.emailTemplate(kind: kind)
    }

    public func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError) {
        try await changingDirectory { () async throws(AuthError) in try await base.setEmailTemplate(template) }
    }

    public func deleteEmailTemplate(kind: TemplateKind) async throws(AuthError) -> Bool {
        try await changingDirectory { () async throws(AuthError) in try await base.deleteEmailTemplate(kind: kind) }
    }

    public func removeEverything() async throws(AuthError) -> RemovalCounts {
        return try await changing(.everything) { () async throws(AuthError) in try await base.removeEverything() }
    }


    // MARK: KeyStore

    public func insertAPIKey(_ key: NewAPIKey) async throws(AuthError) {
        try await base.insertAPIKey(key)
    }

    public func insertFirstAPIKey(_ key: NewAPIKey) async throws(AuthError) -> Bool {
        try await base.insertFirstAPIKey(key)
    }

    public func apiKey(secretHash: [UInt8]) async throws(AuthError) -> APIKey? {
        try await base.apiKey(secretHash: secretHash)
    }

    public func touchAPIKey(id: String, at now: Timestamp) async throws(AuthError) {
        try await base.touchAPIKey(id: id, at: now)
    }

    public func apiKeys() async throws(AuthError) -> [APIKey] {
        try await base.apiKeys()
    }

    public func revokeAPIKey(id: String, at now: Timestamp) async throws(AuthError) -> KeyRevocation {
        try await base.revokeAPIKey(id: id, at: now)
    }

    public func apiKeyCount() async throws(AuthError) -> Int {
        try await base.apiKeyCount()
    }


    // MARK: ImportStore

    public func importUsers(_ users: [ImportedUser], onExisting: ExistingUserPolicy, at now: Timestamp) async throws(AuthError) -> [ImportWriteOutcome] {
        return try await changing(.allSessions) { () async throws(AuthError) in try await base.importUsers(users, onExisting: onExisting, at: now) }
    }
}
