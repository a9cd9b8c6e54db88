/// Failures counted against one key ("login-account:<user id>", "login-address:<ip>", ...).
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
