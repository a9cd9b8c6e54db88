public import AuthCrypto
import AuthLogging
public import Logging

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
/// A stateless flow, so a plain `Sendable` struct that any number of calls use at once:
/// users, sessions, codes and throttles live in the store, whose transactions serialise
/// what must be; the per-account order of password checks is the `LoginGate`'s; settings
/// and templates are the `Directory`'s. The slow part, password hashing, runs on the
/// hasher's thread pool, in parallel on every core.
public struct IdentityService: Sendable {
    private let storage: any Storage
    private let hasher: PasswordHasher
    private let clock: any WallClock
    private let configuration: IdentityConfiguration
    private let throttler: Throttler
    private let loginGate: LoginGate
    private let sessions: SessionAuthenticator
    private let outgoingMail: OutgoingMail
    private let metrics: DomainMetrics
    private let logger: Logger

    public init(
        storage: any Storage,
        hasher: PasswordHasher,
        directory: Directory,
        loginGate: LoginGate,
        sessions: SessionAuthenticator,
        clock: any WallClock = SystemWallClock(),
        configuration: IdentityConfiguration = .defaults,
        metrics: DomainMetrics = .disabled,
        logger: Logger = Logger(label: "authd.identity")
    ) {
        self.storage = storage
        self.hasher = hasher
        self.clock = clock
        self.configuration = configuration
        self.throttler = Throttler(store: storage)
        self.loginGate = loginGate
        self.sessions = sessions
        self.outgoingMail = OutgoingMail(
            directory: directory, throttles: storage, mailsPerMailboxPerHour: configuration.throttles.mailsPerMailboxPerHour)
        self.metrics = metrics
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
        try Validation.checkPasswordBounds(password, policy: configuration.passwords)
        let email = try Validation.normalizedEmail(rawEmail)
        try Validation.checkPassword(password, policy: configuration.passwords)
        try Validation.checkAttributeCount(attributes.count, limits: configuration.attributes)
        try Validation.checkAttributes(attributes, limits: configuration.attributes)
        let address = try parseAddress(clientAddress)
        let now = clock.now
        if let address {
            try await throttler.consumeHourlyQuota(
                ThrottleKey(.signUpAddress, address.throttleSubject),
                limit: configuration.throttles.signUpsPerAddressPerHour,
                now: now,
                what: "sign-ups from this address"
            )
        }

        let hash = try await hasher.hashForStorage(password, for: hashSource(address, account: email))
        let userID = UserID.generate()
        let (token, newSession) = sessions.makeSession(for: userID, at: now, clientAddress: address?.address)
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
        try Validation.checkPasswordBounds(password, policy: configuration.passwords)
        let email = try Validation.normalizedEmail(rawEmail)
        guard !password.isEmpty else {
            throw .invalidArgument("password is required", field: "password")
        }
        let address = try parseAddress(clientAddress)
        let now = clock.now
        let account = Redaction.email(email, at: .info)
        let (credentials, needsRehash): (UserCredentials, Bool)
        do throws(AuthError) {
            (credentials, needsRehash) = try await checkLogin(email: email, password: password, address: address, at: now)
        } catch {
            switch error.code {
            case .resourceExhausted:
                logger.info("login throttled", metadata: ["account": account])
                metrics.login(.throttled)
            case .unauthenticated: metrics.login(.wrong)
            case .permissionDenied: metrics.login(.blocked)
            default: metrics.login(.error)
            }
            throw error
        }
        metrics.login(.ok)
        let (token, newSession) = sessions.makeSession(for: credentials.user.id, at: now, clientAddress: address?.address)
        let session = try await storage.insertSession(newSession)
        logger.info("login ok", metadata: ["user": "\(credentials.user.id)"])
        if needsRehash {
            // Parameters were raised since this hash was made: store one at today's cost.
            let upgraded = try await hasher.hashForStorage(password, for: hashSource(address, account: email))
            try await storage.setPasswordHash(userID: credentials.user.id, hash: upgraded, revoking: .none, at: now)
            logger.info("password hash upgraded", metadata: ["user": "\(credentials.user.id)"])
        }
        return SignedIn(user: credentials.user, token: token, session: session)
    }

    /// The password check of a login, in the account's turn at the login gate.
    private func checkLogin(
        email: String,
        password: String,
        address: ClientAddress?,
        at now: Timestamp
    ) async throws(AuthError) -> (UserCredentials, Bool) {
        let rules = configuration.throttles
        return try await loginGate.check(
            account: ThrottleKey(.loginAccount, email),
            accountRule: rules.loginPerAccount,
            address: address.map { ThrottleKey(.loginAddress, $0.throttleSubject) },
            addressRule: rules.loginPerAddress,
            what: "logins",
            at: now,
            clearOnSuccess: true
        ) { [storage, hasher, logger] () throws(AuthError) -> LoginGate.Verdict<(UserCredentials, Bool)> in
            let source = hashSource(address, account: email)
            let credentials = try await storage.credentials(email: email)
            let verification: PasswordVerification
            if let credentials, let stored = credentials.passwordHash {
                verification = try await hasher.check(password, against: stored, for: source, logger: logger)
            } else {
                try await hasher.spendVerifyCost(password, for: source)
                verification = .mismatch
            }
            guard case .match(let needsRehash) = verification, let credentials else {
                if let credentials {
                    logger.info("login failed: wrong password", metadata: ["user": "\(credentials.user.id)"])
                } else {
                    logger.info("login failed: no such account or no password", metadata: ["account": Redaction.email(email, at: .info)])
                }
                return .rejected(AuthError.invalidCredentials)
            }
            guard !credentials.user.blocked else {
                logger.info("login refused: account blocked", metadata: ["user": "\(credentials.user.id)"])
                return .refused(AuthError(.permissionDenied, "this account is blocked"))
            }
            return .accepted((credentials, needsRehash))
        }
    }

    /// Ends the session. An unknown or already ended token is not an error: the
    /// caller's goal, a dead session, holds.
    public func logout(token: String) async throws(AuthError) {
        guard sessions.looksLikeToken(token) else { return }
        _ = try await storage.revokeSession(tokenHash: SecretToken.hash(token), at: clock.now)
    }

    // MARK: Session use

    /// The session's user, current as of this call.
    public func authenticate(token: String) async throws(AuthError) -> AuthenticatedSession {
        try await sessions.authenticate(token: token)
    }

    /// Changes attributes at once; a new email only once the code emailed to it is
    /// confirmed (`confirmEmailChange`), and only with the current password, so that a
    /// stolen session cannot move the account to its thief's address (and reset the
    /// password from there). The old address is told in the same transaction.
    public func updateProfile(
        token: String,
        changes: UserChanges,
        currentPassword: String,
        clientAddress: String?
    ) async throws(AuthError) -> ProfileUpdate {
        try Validation.checkPasswordBounds(currentPassword, policy: configuration.passwords, field: "current_password")
        let address = try parseAddress(clientAddress)
        let current = try await authenticate(token: token)
        var newEmail: String?
        if let email = changes.email {
            let normalized = try Validation.normalizedEmail(email)
            if normalized != current.user.email { newEmail = normalized }
        }
        var changes = changes
        changes.email = nil
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
        try Validation.checkAttributeCount(resulting.count, limits: configuration.attributes)

        let now = clock.now
        if let newEmail {
            guard !currentPassword.isEmpty else {
                throw .invalidArgument("changing the email needs current_password", field: "current_password")
            }
            try await verifyPassword(of: current.user, currentPassword, field: "current_password", address: address, at: now)
            if try await storage.credentials(email: newEmail) != nil {
                throw AuthError(.alreadyExists, "email \(newEmail) is already taken", field: "email")
            }
        }
        // Every refusal comes before the first write: the mail quotas of both addresses are
        // spent (and the emails rendered, with the attributes as they will be) first, and
        // the attribute limit is checked again inside the write's transaction.
        var emailChange: (code: NewOneTimeCode, emails: [NewOutboxMessage])?
        if let newEmail {
            var changed = current.user
            changed.attributes = resulting
            emailChange = try await prepareEmailChange(of: changed, to: newEmail, at: now)
        }
        var user = current.user
        if !changes.setAttributes.isEmpty || !changes.removeAttributes.isEmpty {
            changes.maximumAttributes = configuration.attributes.maximumCount
            user = try await storage.updateUser(id: current.user.id, changes: changes, at: now)
        }
        guard let newEmail, let emailChange else { return ProfileUpdate(user: user) }
        try await storage.issueEmailChange(emailChange.code, emails: emailChange.emails)
        logger.info("email change asked", metadata: ["user": "\(user.id)"])
        return ProfileUpdate(user: user, pendingEmail: newEmail, codeValidity: configuration.codes.validity)
    }

    /// Moves the account to the address an `updateProfile` asked for, with the code that
    /// went there. Wrong tries count per account (`CodePolicy.maximumAttempts`), as for
    /// reset codes; a wrong, used, voided or expired code gives one answer.
    public func confirmEmailChange(token: String, code: String) async throws(AuthError) -> User {
        let policy = configuration.codes
        guard code.utf8.count == policy.digits, code.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .invalidArgument("code must be \(policy.digits) digits", field: "code")
        }
        let current = try await authenticate(token: token)
        let check = try await storage.redeemEmailChangeCode(
            userID: current.user.id,
            codeHash: Self.codeHash(code, userID: current.user.id),
            maxAttempts: policy.maximumAttempts,
            at: clock.now
        )
        switch check {
        case .accepted(let newEmail):
            logger.info("email changed", metadata: ["user": "\(current.user.id)"])
            guard let user = try await storage.user(id: current.user.id), user.email == newEmail else {
                throw AuthError.invalidSession
            }
            return user
        case .emailTaken:
            throw AuthError(.alreadyExists, "the new email was taken by another account meanwhile", field: "code")
        case .wrong, .noLiveCode:
            throw AuthError(.invalidArgument, "code is wrong, used or expired; ask for the change again", field: "code")
        }
    }

    /// The code to the new address and the notice to the old one, for the caller to store
    /// with the pending change in one transaction (`issueEmailChange`).
    private func prepareEmailChange(
        of user: User,
        to newEmail: String,
        at now: Timestamp
    ) async throws(AuthError) -> (code: NewOneTimeCode, emails: [NewOutboxMessage]) {
        let policy = configuration.codes
        let code = SecureRandom.numericCode(digits: policy.digits)
        let confirmation = try await outgoingMail.compose(.emailChangeCode, to: newEmail, values: { settings in
            TemplateValues(
                email: newEmail, attributes: user.attributes, code: code, appName: settings.appName,
                appBaseURL: settings.linkBase, expiresIn: policy.validity)
        }, at: now)
        let notice = try await outgoingMail.compose(.emailChangeNotice, to: user.email, values: { settings in
            TemplateValues(
                email: user.email, attributes: user.attributes, appName: settings.appName, appBaseURL: settings.linkBase,
                newEmail: newEmail)
        }, at: now)
        let record = NewOneTimeCode(
            userID: user.id,
            purpose: .emailChange,
            codeHash: Self.codeHash(code, userID: user.id),
            createdAt: now,
            expiresAt: now + policy.validity,
            newEmail: newEmail
        )
        return (record, [confirmation, notice])
    }

    /// Needs the old password; every other session of the user ends, the caller's stays.
    public func changePassword(token: String, oldPassword: String, newPassword: String) async throws(AuthError) {
        try Validation.checkPasswordBounds(oldPassword, policy: configuration.passwords, field: "old_password")
        try Validation.checkPasswordBounds(newPassword, policy: configuration.passwords, field: "new_password")
        let current = try await authenticate(token: token)
        try Validation.checkPassword(newPassword, policy: configuration.passwords, field: "new_password")
        let now = clock.now
        try await verifyPassword(of: current.user, oldPassword, field: "old_password", address: nil, at: now)
        let hash = try await hasher.hashForStorage(newPassword, for: .endUser("account:\(current.user.id)"))
        try await storage.setPasswordHash(
            userID: current.user.id,
            hash: hash,
            revoking: .allExcept(sessionID: current.session.id),
            at: now
        )
        logger.info("password changed", metadata: ["user": "\(current.user.id)"])
    }

    /// The password of a signed-in user, checked in the account's turn at the login gate
    /// (a wrong one counts against the account like a failed login). PERMISSION_DENIED
    /// naming `field` when it is wrong.
    private func verifyPassword(
        of user: User,
        _ password: String,
        field: String,
        address: ClientAddress?,
        at now: Timestamp
    ) async throws(AuthError) {
        let userID = user.id
        try await loginGate.check(
            account: ThrottleKey(.loginAccount, user.email),
            accountRule: configuration.throttles.loginPerAccount,
            address: address.map { ThrottleKey(.loginAddress, $0.throttleSubject) },
            addressRule: configuration.throttles.loginPerAddress,
            what: "password checks",
            at: now,
            clearOnSuccess: false
        ) { [storage, hasher, logger] () throws(AuthError) -> LoginGate.Verdict<Void> in
            guard let credentials = try await storage.credentials(id: userID) else {
                return .refused(AuthError.invalidSession)
            }
            guard let stored = credentials.passwordHash,
                case .match = try await hasher.check(password, against: stored, for: .endUser("account:\(userID)"), logger: logger)
            else {
                return .rejected(AuthError(.permissionDenied, "\(field) is wrong", field: field))
            }
            return .accepted(())
        }
    }

    // MARK: Password reset

    /// Emails a one-time code when the email belongs to an active user. The answer
    /// (how long a code lives) and the throttling are the same either way.
    public func forgotPassword(email rawEmail: String, clientAddress: String?) async throws(AuthError) -> Duration {
        let email = try Validation.normalizedEmail(rawEmail)
        let address = try parseAddress(clientAddress)
        let now = clock.now
        let rules = configuration.throttles
        if let address {
            try await throttler.consumeHourlyQuota(
                ThrottleKey(.forgotAddress, address.throttleSubject),
                limit: rules.forgotPasswordPerAddressPerHour,
                now: now,
                what: "password reset requests from this address"
            )
        }
        try await throttler.consumeHourlyQuota(
            ThrottleKey(.forgotEmail, Validation.mailbox(of: email)),
            limit: rules.forgotPasswordPerEmailPerHour,
            now: now,
            what: "password reset requests for this email"
        )
        // Known or not, the same work: one lookup, one code, one rendered email, one
        // transaction of the same rows (for an unknown or blocked email, to rows nobody
        // reads), so that the answer's timing does not tell the two apart.
        let policy = configuration.codes
        let credentials = try await storage.credentials(email: email)
        let account = credentials?.user.blocked == false ? credentials?.user : nil
        let code = SecureRandom.numericCode(digits: policy.digits)
        let codeHash = Self.codeHash(code, userID: account?.id ?? UserID(rawValue: ""))
        let mail = try await outgoingMail.compose(
            .verificationCode,
            to: email,
            values: { settings in
                TemplateValues(
                    email: email,
                    attributes: account?.attributes ?? [:],
                    code: code,
                    appName: settings.appName,
                    appBaseURL: settings.linkBase,
                    expiresIn: policy.validity
                )
            },
            at: now
        )
        if let account {
            try await storage.issueCode(
                NewOneTimeCode(
                    userID: account.id,
                    purpose: .passwordReset,
                    codeHash: codeHash,
                    createdAt: now,
                    expiresAt: now + policy.validity
                ),
                email: mail
            )
            logger.info("password reset code issued", metadata: ["user": "\(account.id)"])
        } else {
            try await storage.issueDecoyCode(codeHash: codeHash, email: mail)
            // A line as the known path writes, so that logging costs the same on both.
            logger.info("password reset code not issued: no active account", metadata: ["account": Redaction.email(email, at: .info)])
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
        try Validation.checkPasswordBounds(newPassword, policy: configuration.passwords, field: "new_password")
        let email = try Validation.normalizedEmail(rawEmail)
        let policy = configuration.codes
        guard code.utf8.count == policy.digits, code.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw .invalidArgument("code must be \(policy.digits) digits", field: "code")
        }
        try Validation.checkPassword(newPassword, policy: configuration.passwords, field: "new_password")
        let address = try parseAddress(clientAddress)
        let now = clock.now
        let rule = configuration.throttles.confirmPerAddress
        // Counted before the check, atomically: parallel guesses from one address see each
        // other; a confirmation that succeeds takes its count back.
        let addressKey = address.map { ThrottleKey(.confirmAddress, $0.throttleSubject) }
        if let addressKey {
            try await throttler.reserve([ThrottleReservation(addressKey, rule: rule)], now: now) { _ in
                "code confirmations from this address"
            }
        }
        // Hash before looking anything up, so that the work is the same for every email.
        let hash = try await hasher.hashForStorage(newPassword, for: hashSource(address, account: email))
        let rejected = AuthError(.invalidArgument, "code is wrong, used or expired; request a new one", field: "code")

        guard let credentials = try await storage.credentials(email: email), !credentials.user.blocked else {
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
            throw rejected
        }
        if let addressKey { try await throttler.forgive(addressKey) }
        try await throttler.clear(ThrottleKey(.loginAccount, email))
        logger.info("password reset", metadata: ["user": "\(credentials.user.id)"])
    }

    // MARK: Invitations

    /// Sets the invited user's first password and signs the user in. A wrong, used,
    /// voided or expired code gives one answer.
    public func acceptInvite(code: String, password: String, clientAddress: String?) async throws(AuthError) -> SignedIn {
        try Validation.checkPasswordBounds(password, policy: configuration.passwords)
        guard InvitationCode.looksValid(code) else {
            throw .invalidArgument("code is not an invitation code", field: "code")
        }
        try Validation.checkPassword(password, policy: configuration.passwords)
        let address = try parseAddress(clientAddress)
        let now = clock.now
        let rule = configuration.throttles.confirmPerAddress
        let addressKey = address.map { ThrottleKey(.inviteAddress, $0.throttleSubject) }
        if let addressKey {
            try await throttler.reserve([ThrottleReservation(addressKey, rule: rule)], now: now) { _ in
                "invitation codes from this address"
            }
        }
        let rejected = AuthError(.invalidArgument, "invitation code is wrong, used or expired; ask for a new invitation", field: "code")
        let codeHash = SecretToken.hash(code)
        guard let userID = try await storage.invitation(codeHash: codeHash, at: now),
            let credentials = try await storage.credentials(id: userID),
            !credentials.user.blocked
        else {
            throw rejected
        }
        let hash = try await hasher.hashForStorage(password, for: hashSource(address, account: userID.rawValue))
        let (token, newSession) = sessions.makeSession(for: userID, at: now, clientAddress: address?.address)
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
        if let addressKey { try await throttler.forgive(addressKey) }
        logger.info("invitation accepted", metadata: ["user": "\(userID)"])
        return SignedIn(user: found.user, token: token, session: found.session)
    }

    // MARK: Helpers

    /// The caller's report of the end user's address, normalised; refused when it is not
    /// an address, so that garbage cannot become a throttle key of its own.
    private func parseAddress(_ raw: String?) throws(AuthError) -> ClientAddress? {
        guard let raw else { return nil }
        return try ClientAddress(parsing: raw, ipv6PrefixLength: configuration.throttles.ipv6PrefixLength)
    }

    /// Codes are hashed with the user's id, so equal codes of two users differ in the store.
    static func codeHash(_ code: String, userID: UserID) -> [UInt8] {
        Digest.sha256("\(userID.rawValue):\(code)")
    }
}
