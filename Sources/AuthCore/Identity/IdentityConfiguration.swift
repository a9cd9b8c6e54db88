/// Every knob of the end-user flows, with the defaults an operator gets.
public struct IdentityConfiguration: Sendable {
    public var passwords: Validation.PasswordPolicy
    public var attributes: Validation.AttributeLimits
    public var sessions: SessionPolicy
    public var codes: CodePolicy
    public var throttles: ThrottlePolicy
    /// The sender of emails until settings say otherwise.
    public var mailFrom: String
    /// The app's name in emails until settings say otherwise.
    public var appName: String
    /// How long an invitation stays valid.
    public var invitationValidity: Duration

    public init(
        passwords: Validation.PasswordPolicy = .defaults,
        attributes: Validation.AttributeLimits = .defaults,
        sessions: SessionPolicy = .defaults,
        codes: CodePolicy = .defaults,
        throttles: ThrottlePolicy = .defaults,
        mailFrom: String = "authd <no-reply@localhost>",
        appName: String = "authd",
        invitationValidity: Duration = .seconds(7 * 24 * 3600)
    ) {
        self.passwords = passwords
        self.attributes = attributes
        self.sessions = sessions
        self.codes = codes
        self.throttles = throttles
        self.mailFrom = mailFrom
        self.appName = appName
        self.invitationValidity = invitationValidity
    }

    public static var defaults: Self { Self() }

    /// What settings an operator never set fall back to.
    public var settingsDefaults: Settings.Defaults {
        Settings.Defaults(mailFrom: mailFrom, appName: appName)
    }
}

public struct SessionPolicy: Hashable, Sendable {
    /// A session unused this long ends.
    public var idleTimeout: Duration
    /// A session ends this long after sign-in, used or not.
    public var absoluteTimeout: Duration
    /// Use of a session is written back at most this often (a token check is a read).
    public var touchInterval: Duration
    /// Starts every session token, so secret scanners can recognise a leaked one.
    public var tokenPrefix: String

    public init(
        idleTimeout: Duration = .seconds(7 * 24 * 3600),
        absoluteTimeout: Duration = .seconds(30 * 24 * 3600),
        touchInterval: Duration = .seconds(60),
        tokenPrefix: String = "authd_st_"
    ) {
        self.idleTimeout = idleTimeout
        self.absoluteTimeout = absoluteTimeout
        self.touchInterval = touchInterval
        self.tokenPrefix = tokenPrefix
    }

    public static var defaults: Self { Self() }
}

public struct CodePolicy: Hashable, Sendable {
    /// 8 digits: 26.6 bits; at least 6 (20 bits).
    public var digits: Int
    /// At most 15 minutes.
    public var validity: Duration
    /// Wrong tries, counted per account, that void a code.
    public var maximumAttempts: Int

    public init(digits: Int = 8, validity: Duration = .seconds(15 * 60), maximumAttempts: Int = 5) {
        precondition((6...12).contains(digits), "codes have 6 to 12 digits")
        precondition(validity > .zero && validity <= .seconds(15 * 60), "codes live at most 15 minutes")
        precondition(maximumAttempts >= 1)
        self.digits = digits
        self.validity = validity
        self.maximumAttempts = maximumAttempts
    }

    public static var defaults: Self { Self() }
}

/// Exponential back-off after free failures: once a key has `freeFailures` failures in
/// its window, the next attempt must wait `baseDelay × 2^(failures − freeFailures)`
/// (at most `maximumDelay`) after the last failure.
public struct BackoffRule: Hashable, Sendable {
    public var freeFailures: Int
    public var baseDelay: Duration
    public var maximumDelay: Duration
    /// Failures older than this are forgotten.
    public var window: Duration

    public init(freeFailures: Int, baseDelay: Duration, maximumDelay: Duration, window: Duration) {
        self.freeFailures = freeFailures
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
        self.window = window
    }

    /// How long to wait after the last failure, or nil when an attempt is free.
    public func delay(after failures: Int) -> Duration? {
        guard failures >= freeFailures else { return nil }
        let exponent = min(failures - freeFailures, 30)
        let delay = baseDelay * (1 << exponent)
        return min(delay, maximumDelay)
    }
}

public struct ThrottlePolicy: Hashable, Sendable {
    /// Failed logins per email (known or not, so the throttle reveals nothing).
    public var loginPerAccount: BackoffRule
    /// Failed logins per end-user address (`x-client-address`).
    public var loginPerAddress: BackoffRule
    /// Codes requested per email per hour.
    public var forgotPasswordPerEmailPerHour: Int
    /// Codes requested per end-user address per hour.
    public var forgotPasswordPerAddressPerHour: Int
    /// Password-reset confirmations per address, failed ones.
    public var confirmPerAddress: BackoffRule

    public init(
        loginPerAccount: BackoffRule = BackoffRule(freeFailures: 5, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600)),
        loginPerAddress: BackoffRule = BackoffRule(freeFailures: 20, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600)),
        forgotPasswordPerEmailPerHour: Int = 3,
        forgotPasswordPerAddressPerHour: Int = 20,
        confirmPerAddress: BackoffRule = BackoffRule(freeFailures: 20, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600))
    ) {
        self.loginPerAccount = loginPerAccount
        self.loginPerAddress = loginPerAddress
        self.forgotPasswordPerEmailPerHour = forgotPasswordPerEmailPerHour
        self.forgotPasswordPerAddressPerHour = forgotPasswordPerAddressPerHour
        self.confirmPerAddress = confirmPerAddress
    }

    public static var defaults: Self { Self() }
}
