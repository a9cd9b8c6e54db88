import AuthCrypto
import Logging

/// A session just made: the token is shown to the caller this once.
public struct SignedIn: Hashable, Sendable {
    public var user: User
    public var token: String
    public var session: SessionRecord

    public init(user: User, token: String, session: SessionRecord) {
        self.user = user
        self.token = token
        self.session = session
    }
}

/// The end-user flows: sign-up, login, sessions, profile, password change and reset.
///
/// It holds no mutable state of its own — users, sessions, codes and throttles live in
/// the store, whose transactions serialise what must be serialised — so it is a plain
/// `Sendable` type that any number of calls use at once. The slow part, password
/// hashing, runs on the hasher's thread pool, in parallel on every core.
public final class IdentityService: Sendable {
    private let storage: any AuthStorage
    private let hasher: PasswordHasher
    private let clock: any WallClock
    private let configuration: IdentityConfiguration
    private let throttler: Throttler
    private let outgoingMail: OutgoingMail
    private let accountLocks = KeyedLock()
    private let logger: Logger

    public init(
        storage: any AuthStorage,
        hasher: PasswordHasher,
        clock: any WallClock = SystemWallClock(),
        configuration: IdentityConfiguration = .defaults,
        logger: Logger = Logger(label: "authd.identity")
    ) {
        self.storage = storage
        self.hasher = hasher
        self.clock = clock
        self.configuration = configuration
        self.throttler = Throttler(storage: storage)
        self.outgoingMail = OutgoingMail(storage: storage, defaultSender: configuration.mailFrom)
        self.logger = logger
    }

    // MARK: Sign-up and login

    /// Creates a user with a password and signs it in. A taken email is ALREADY_EXISTS:
    /// sign-up cannot hide existence without sending mail instead of answering.
    public func signUp(
        email rawEmail: String,
        password: String,
        attributes: [String: String],
        clientAddress: String?
    ) async throws(AuthError) -> SignedIn {
        try refuseOverlongPassword(password)
        let email = try Validation.normalizedEmail(rawEmail)
        try Validation.checkPassword(password, policy: configuration.passwords)
        try checkAttributeCount(attributes.count)
        try Validation.checkAttributes(attributes, limits: configuration.attributes)

        let hash = try await hashPassword(password)
        let now = clock.now
        let userID = UserID.generate()
        let (token, newSession) = makeSession(for: userID, at: now, clientAddress: clientAddress)
        let user = try await storage.insertUser(
            NewUser(id: userID, email: email, attributes: attributes, passwordHash: hash, createdAt: now),
            session: newSession
        )
        guard let session = try await storage.authenticate(tokenHash: newSession.tokenHash, at: now)?.session else {
            throw AuthError.storage("the new session of \(userID) was not found")
        }
        logger.info("signed up", metadata: ["user": "\(userID)"])
        return SignedIn(user: user, token: token, session: session)
    }

    /// Checks email and password and opens a session. Every way to fail — unknown email,
    /// no password yet, wrong password — gives the same answer after the same work.
    public func login(email rawEmail: String, password: String, clientAddress: String?) async throws(AuthError) -> SignedIn {
        try refuseOverlongPassword(password)
        let email = try Validation.normalizedEmail(rawEmail)
        guard !password.isEmpty else {
            throw .invalidArgument("password is required", field: "password")
        }
        let now = clock.now
        let rules = configuration.throttles
        let accountKey = "login-email:\(email)"
        let addressKey = clientAddress.map { "login-address:\($0)" }
        // One attempt per account at a time: a parallel guess waits for the previous
        // one's failure to be counted instead of slipping past the throttle check.
        let (credentials, needsRehash) = try await accountLocks.withLock(accountKey) { () throws(AuthError) -> (UserCredentials, Bool) in
            try await throttler.check(accountKey, rule: rules.loginPerAccount, now: now, what: "logins for this account")
            if let addressKey {
                try await throttler.check(addressKey, rule: rules.loginPerAddress, now: now, what: "logins from this address")
            }
            let credentials = try await storage.credentials(email: email)
            let verification: PasswordVerification
            if let credentials, let stored = credentials.passwordHash {
                verification = try await verifyPassword(password, against: stored)
            } else {
                await hasher.burnVerifyCost(password)
                verification = .mismatch
            }
            guard case .match(let needsRehash) = verification, let credentials else {
                try await throttler.recordFailure(accountKey, rule: rules.loginPerAccount, now: now)
                if let addressKey {
                    try await throttler.recordFailure(addressKey, rule: rules.loginPerAddress, now: now)
                }
                throw AuthError.invalidCredentials
            }
            guard !credentials.user.blocked else {
                throw AuthError(.permissionDenied, "this account is blocked")
            }
            try await throttler.clear(accountKey)
            return (credentials, needsRehash)
        }

        let (token, newSession) = makeSession(for: credentials.user.id, at: now, clientAddress: clientAddress)
        let session = try await storage.insertSession(newSession)
        if needsRehash {
            // Parameters were raised since this hash was made: store one at today's cost.
            let upgraded = try await hashPassword(password)
            try await storage.setPasswordHash(userID: credentials.user.id, hash: upgraded, revoking: .none, at: now)
            logger.info("password hash upgraded", metadata: ["user": "\(credentials.user.id)"])
        }
        return SignedIn(user: credentials.user, token: token, session: session)
    }

    /// Ends the session. An unknown or already ended token is not an error: the
    /// caller's goal, a dead session, holds.
    public func logout(token: String) async throws(AuthError) {
        guard looksLikeToken(token) else { return }
        _ = try await storage.revokeSession(tokenHash: SecretToken.hash(token), at: clock.now)
    }

    // MARK: Session use

    /// The session's user, current as of this call: a blocked or deleted user's
    /// session fails here at once, not at its expiry.
    public func authenticate(token: String) async throws(AuthError) -> AuthenticatedSession {
        guard looksLikeToken(token) else {
            throw AuthError.invalidSession
        }
        let now = clock.now
        guard let found = try await storage.authenticate(tokenHash: SecretToken.hash(token), at: now) else {
            throw AuthError.invalidSession
        }
        let policy = configuration.sessions
        if now.since(found.session.lastSeenAt) >= policy.touchInterval {
            let idleExpiry = min(now + policy.idleTimeout, found.session.absoluteExpiresAt)
            try await storage.touchSession(id: found.session.id, lastSeenAt: now, idleExpiresAt: idleExpiry)
        }
        return found
    }

    public func updateProfile(token: String, changes: UserChanges) async throws(AuthError) -> User {
        let current = try await authenticate(token: token)
        var changes = changes
        if let email = changes.email {
            changes.email = try Validation.normalizedEmail(email)
        }
        try Validation.checkAttributes(changes.setAttributes, limits: configuration.attributes, field: "set_attributes")
        for name in changes.removeAttributes.sorted() {
            try Validation.checkAttributeName(name, limits: configuration.attributes, field: "remove_attributes")
        }
        let overlap = changes.removeAttributes.intersection(changes.setAttributes.keys)
        if let name = overlap.sorted().first {
            throw .invalidArgument("attribute '\(name)' is both set and removed", field: "remove_attributes")
        }
        var resulting = current.user.attributes
        for name in changes.removeAttributes { resulting[name] = nil }
        resulting.merge(changes.setAttributes) { _, new in new }
        try checkAttributeCount(resulting.count)
        return try await storage.updateUser(id: current.user.id, changes: changes, at: clock.now)
    }

    /// Needs the old password; every other session of the user ends, the caller's stays.
    public func changePassword(token: String, oldPassword: String, newPassword: String) async throws(AuthError) {
        try refuseOverlongPassword(oldPassword, field: "old_password")
        try refuseOverlongPassword(newPassword, field: "new_password")
        let current = try await authenticate(token: token)
        try Validation.checkPassword(newPassword, policy: configuration.passwords, field: "new_password")
        let now = clock.now
        let accountKey = "login-email:\(current.user.email)"
        let rule = configuration.throttles.loginPerAccount
        try await accountLocks.withLock(accountKey) { () throws(AuthError) in
            try await throttler.check(accountKey, rule: rule, now: now, what: "password checks for this account")
            guard let credentials = try await storage.credentials(id: current.user.id) else {
                throw AuthError.invalidSession
            }
            let verification: PasswordVerification
            if let stored = credentials.passwordHash {
                verification = try await verifyPassword(oldPassword, against: stored)
            } else {
                verification = .mismatch
            }
            guard case .match = verification else {
                try await throttler.recordFailure(accountKey, rule: rule, now: now)
                throw AuthError(.permissionDenied, "old_password is wrong", field: "old_password")
            }
        }
        let hash = try await hashPassword(newPassword)
        try await storage.setPasswordHash(
            userID: current.user.id,
            hash: hash,
            revoking: .allExcept(sessionID: current.session.id),
            at: now
        )
        logger.info("password changed", metadata: ["user": "\(current.user.id)"])
    }

    // MARK: Password reset

    /// Emails a one-time code when the email belongs to an active user. The answer
    /// (how long a code lives) and the throttling are the same either way.
    public func forgotPassword(email rawEmail: String, clientAddress: String?) async throws(AuthError) -> Duration {
        let email = try Validation.normalizedEmail(rawEmail)
        let now = clock.now
        let rules = configuration.throttles
        if let clientAddress {
            try await throttler.consumeHourlyQuota(
                "forgot-address:\(clientAddress)",
                limit: rules.forgotPasswordPerAddressPerHour,
                now: now,
                what: "password reset requests from this address"
            )
        }
        try await throttler.consumeHourlyQuota(
            "forgot-email:\(email)",
            limit: rules.forgotPasswordPerEmailPerHour,
            now: now,
            what: "password reset requests for this email"
        )
        let policy = configuration.codes
        if let credentials = try await storage.credentials(email: email), !credentials.user.blocked {
            let code = SecureRandom.numericCode(digits: policy.digits)
            let mail = try await outgoingMail.compose(
                .verificationCode,
                to: email,
                values: TemplateValues(
                    email: email,
                    attributes: credentials.user.attributes,
                    code: code,
                    appBaseURL: try await outgoingMail.appBaseURL(),
                    expiresInMinutes: policy.validity.wholeMilliseconds / 60_000
                ),
                at: now
            )
            try await storage.issueCode(
                NewOneTimeCode(
                    userID: credentials.user.id,
                    purpose: .passwordReset,
                    codeHash: Self.codeHash(code, userID: credentials.user.id),
                    createdAt: now,
                    expiresAt: now + policy.validity
                ),
                email: mail
            )
            logger.info("password reset code issued", metadata: ["user": "\(credentials.user.id)"])
        } else {
            // The same kind of work for an unknown (or blocked) email: render the email and
            // commit one write, so the answer's timing does not tell the two apart.
            _ = try await outgoingMail.compose(
                .verificationCode,
                to: email,
                values: TemplateValues(email: email, code: SecureRandom.numericCode(digits: policy.digits)),
                at: now
            )
            _ = try await storage.recordFailure(key: "forgot-decoy", window: .seconds(3600), at: now)
        }
        return policy.validity
    }

    /// Sets a new password with an emailed code; every session of the user ends. Unknown
    /// email, no code, expired, used, voided and wrong code all give one answer.
    public func confirmPassword(
        email rawEmail: String,
        code: String,
        newPassword: String,
        clientAddress: String?
    ) async throws(AuthError) {
        try refuseOverlongPassword(newPassword, field: "new_password")
        let email = try Validation.normalizedEmail(rawEmail)
        let policy = configuration.codes
        guard code.utf8.count == policy.digits, code.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .invalidArgument("code must be \(policy.digits) digits", field: "code")
        }
        try Validation.checkPassword(newPassword, policy: configuration.passwords, field: "new_password")
        let now = clock.now
        let rule = configuration.throttles.confirmPerAddress
        let addressKey = clientAddress.map { "confirm-address:\($0)" }
        if let addressKey {
            try await throttler.check(addressKey, rule: rule, now: now, what: "code confirmations from this address")
        }
        // Hash before looking anything up, so that the work is the same for every email.
        let hash = try await hashPassword(newPassword)
        let rejected = AuthError(.invalidArgument, "code is wrong, used or expired; request a new one", field: "code")

        guard let credentials = try await storage.credentials(email: email), !credentials.user.blocked else {
            if let addressKey { try await throttler.recordFailure(addressKey, rule: rule, now: now) }
            throw rejected
        }
        let check = try await storage.redeemPasswordResetCode(
            userID: credentials.user.id,
            codeHash: Self.codeHash(code, userID: credentials.user.id),
            newPasswordHash: hash,
            maxAttempts: policy.maximumAttempts,
            at: now
        )
        guard case .accepted = check else {
            if let addressKey { try await throttler.recordFailure(addressKey, rule: rule, now: now) }
            throw rejected
        }
        try await throttler.clear("login-email:\(email)")
        logger.info("password reset", metadata: ["user": "\(credentials.user.id)"])
    }

    // MARK: Invitations

    /// Sets the invited user's first password and signs the user in. A wrong, used,
    /// voided or expired code gives one answer.
    public func acceptInvite(code: String, password: String, clientAddress: String?) async throws(AuthError) -> SignedIn {
        try refuseOverlongPassword(password)
        guard code.hasPrefix(AdministrationService.invitationCodePrefix), code.utf8.count <= 128 else {
            throw .invalidArgument("code is not an invitation code", field: "code")
        }
        try Validation.checkPassword(password, policy: configuration.passwords)
        let now = clock.now
        let rule = configuration.throttles.confirmPerAddress
        let addressKey = clientAddress.map { "invite-address:\($0)" }
        if let addressKey {
            try await throttler.check(addressKey, rule: rule, now: now, what: "invitation codes from this address")
        }
        let rejected = AuthError(.invalidArgument, "invitation code is wrong, used or expired; ask for a new invitation", field: "code")
        let codeHash = SecretToken.hash(code)
        guard let userID = try await storage.invitation(codeHash: codeHash, at: now),
            let credentials = try await storage.credentials(id: userID),
            !credentials.user.blocked
        else {
            if let addressKey { try await throttler.recordFailure(addressKey, rule: rule, now: now) }
            throw rejected
        }
        let hash = try await hashPassword(password)
        let (token, newSession) = makeSession(for: userID, at: now, clientAddress: clientAddress)
        guard case .accepted = try await storage.redeemInvitation(
            userID: userID,
            codeHash: codeHash,
            passwordHash: hash,
            session: newSession,
            at: now
        ) else {
            throw rejected
        }
        guard let found = try await storage.authenticate(tokenHash: newSession.tokenHash, at: now) else {
            throw AuthError.storage("the new session of \(userID) was not found")
        }
        logger.info("invitation accepted", metadata: ["user": "\(userID)"])
        return SignedIn(user: found.user, token: token, session: found.session)
    }

    // MARK: Helpers

    /// Codes are hashed with the user's id, so equal codes of two users differ in the store.
    static func codeHash(_ code: String, userID: UserID) -> [UInt8] {
        Digest.sha256("\(userID.rawValue):\(code)")
    }

    private func makeSession(for userID: UserID, at now: Timestamp, clientAddress: String?) -> (String, NewSession) {
        let policy = configuration.sessions
        let token = SecretToken.make(prefix: policy.tokenPrefix)
        let absolute = now + policy.absoluteTimeout
        let session = NewSession(
            userID: userID,
            tokenHash: SecretToken.hash(token),
            createdAt: now,
            idleExpiresAt: min(now + policy.idleTimeout, absolute),
            absoluteExpiresAt: absolute,
            clientAddress: clientAddress
        )
        return (token, session)
    }

    /// A cheap shape check that spares the store a lookup of garbage.
    private func looksLikeToken(_ token: String) -> Bool {
        token.hasPrefix(configuration.sessions.tokenPrefix) && token.utf8.count <= 256
    }

    /// The password maximum, checked before any other work: hashing, or even counting the
    /// characters of, a password of megabytes is what a flood of such calls would cost.
    /// Counts at most one character past the maximum.
    private func refuseOverlongPassword(_ password: String, field: String = "password") throws(AuthError) {
        let maximum = configuration.passwords.maximumLength
        guard password.utf8.count <= maximum || password.prefix(maximum + 1).count <= maximum else {
            throw .invalidArgument("\(field) must have at most \(maximum) characters", field: field)
        }
    }

    private func checkAttributeCount(_ count: Int) throws(AuthError) {
        let limit = configuration.attributes.maximumCount
        guard count <= limit else {
            throw .invalidArgument("a user has at most \(limit) attributes, this would make \(count)", field: "attributes")
        }
    }

    private func hashPassword(_ password: String) async throws(AuthError) -> String {
        do {
            return try await hasher.hash(password)
        } catch {
            throw AuthError(.internal, "password hashing failed: \(error)")
        }
    }

    private func verifyPassword(_ password: String, against stored: String) async throws(AuthError) -> PasswordVerification {
        do {
            return try await hasher.verify(password, against: stored)
        } catch {
            logger.error("stored password hash is unreadable: \(error)")
            throw AuthError(.internal, "the stored password hash cannot be read")
        }
    }
}
