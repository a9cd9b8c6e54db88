/// What a throttle counts against: a kind of attempt and who makes it. Every key is built
/// here, so that one account or one address always gets the same key.
public struct ThrottleKey: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// Failed logins and password checks per normalised email, known or not.
        case loginAccount = "login-email"
        /// Failed logins per end-user address.
        case loginAddress = "login-address"
        /// Reset codes requested per email.
        case forgotEmail = "forgot-email"
        /// Reset codes requested per end-user address.
        case forgotAddress = "forgot-address"
        /// Failed reset-code confirmations per end-user address.
        case confirmAddress = "confirm-address"
        /// Failed invitation acceptances per end-user address.
        case inviteAddress = "invite-address"
        /// Sign-ups per end-user address.
        case signUpAddress = "signup-address"
        /// Emails of any kind to one mailbox (plus-tags dropped).
        case mailbox = "mailbox"
    }

    public var kind: Kind
    /// The email, mailbox or address.
    public var subject: String

    public init(_ kind: Kind, _ subject: String = "") {
        self.kind = kind
        self.subject = subject
    }

    /// The stored form: "login-email:ada@example.com".
    public var description: String {
        subject.isEmpty ? kind.rawValue : "\(kind.rawValue):\(subject)"
    }
}

/// Failures counted against one key.
public struct ThrottleRecord: Hashable, Sendable {
    public var failures: Int
    public var windowStartedAt: Timestamp
    public var lastFailureAt: Timestamp

    public init(failures: Int, windowStartedAt: Timestamp, lastFailureAt: Timestamp) {
        self.failures = failures
        self.windowStartedAt = windowStartedAt
        self.lastFailureAt = lastFailureAt
    }
}

/// One key an attempt is counted against, with the rule that says when it must wait.
public struct ThrottleReservation: Hashable, Sendable {
    public var key: ThrottleKey
    public var rule: BackoffRule

    public init(_ key: ThrottleKey, rule: BackoffRule) {
        self.key = key
        self.rule = rule
    }

    /// When the next attempt is allowed after `record`, or nil when it is allowed now.
    public func allowedAt(after record: ThrottleRecord?, now: Timestamp) -> Timestamp? {
        guard let record, record.windowStartedAt > now - rule.window, let delay = rule.delay(after: record.failures) else {
            return nil
        }
        let allowed = record.lastFailureAt + delay
        return now < allowed ? allowed : nil
    }
}

/// What `reserveAttempt` decided.
public enum ThrottleVerdict: Hashable, Sendable {
    /// Counted against every key; go on.
    case allowed
    /// Nothing counted: `key` is backing off until `until`.
    case refused(key: ThrottleKey, until: Timestamp)
}
