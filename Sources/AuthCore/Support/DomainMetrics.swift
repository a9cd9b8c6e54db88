public import AuthCrypto
public import CoreMetrics

/// What the domain counts: logins and token checks by outcome, imported rows, the mail
/// workers' leases, acknowledgements and failures, and the password hasher's queue. Made
/// once by the composition root with the server's metrics factory; every counter is made
/// up front, so that recording is an atomic add on an object already found.
///
/// Names and meanings are in docs/operations.md.
public final class DomainMetrics: PasswordHashObserver {
    public enum LoginOutcome: String, CaseIterable, Sendable {
        case ok, wrong, blocked, throttled, error
    }

    public enum TokenCheckOutcome: String, CaseIterable, Sendable {
        case ok, invalid, error
    }

    /// Records nothing: for flows built without a server (tests, tools).
    public static let disabled = DomainMetrics(factory: NOOPMetricsHandler.instance)

    private let logins: [LoginOutcome: Counter]
    // The token check is the hot path: one stored counter an outcome, no lookup.
    private let tokenOK: Counter
    private let tokenInvalid: Counter
    private let tokenError: Counter
    private let importRows: [UserImportRow.Outcome: Counter]
    private let mailLeased: Counter
    private let mailAcknowledged: Counter
    private let mailRetried: Counter
    private let mailDead: Counter
    private let hashWait: Timer
    private let hashDuration: Timer
    private let hashRefused: Counter

    public init(factory: any MetricsFactory) {
        logins = Dictionary(uniqueKeysWithValues: LoginOutcome.allCases.map {
            ($0, Counter(label: "authd_logins_total", dimensions: [("outcome", $0.rawValue)], factory: factory))
        })
        func tokenCounter(_ outcome: TokenCheckOutcome) -> Counter {
            Counter(label: "authd_token_checks_total", dimensions: [("outcome", outcome.rawValue)], factory: factory)
        }
        tokenOK = tokenCounter(.ok)
        tokenInvalid = tokenCounter(.invalid)
        tokenError = tokenCounter(.error)
        let rowOutcomes: [(UserImportRow.Outcome, String)] = [(.created, "created"), (.updated, "updated"), (.skipped, "skipped"), (.error, "error")]
        importRows = Dictionary(uniqueKeysWithValues: rowOutcomes.map { outcome, name in
            (outcome, Counter(label: "authd_import_rows_total", dimensions: [("outcome", name)], factory: factory))
        })
        mailLeased = Counter(label: "authd_mail_leased_total", factory: factory)
        mailAcknowledged = Counter(label: "authd_mail_acknowledged_total", factory: factory)
        mailRetried = Counter(label: "authd_mail_failures_total", dimensions: [("result", "retry")], factory: factory)
        mailDead = Counter(label: "authd_mail_failures_total", dimensions: [("result", "dead")], factory: factory)
        hashWait = Timer(label: "authd_password_hash_wait_seconds", factory: factory)
        hashDuration = Timer(label: "authd_password_hash_duration_seconds", factory: factory)
        hashRefused = Counter(label: "authd_password_hash_refused_total", factory: factory)
    }

    func login(_ outcome: LoginOutcome) {
        logins[outcome]?.increment()
    }

    func tokenCheck(_ outcome: TokenCheckOutcome) {
        switch outcome {
        case .ok: tokenOK.increment()
        case .invalid: tokenInvalid.increment()
        case .error: tokenError.increment()
        }
    }

    func imported(_ rows: [UserImportRow]) {
        var counts: [UserImportRow.Outcome: Int] = [:]
        for row in rows { counts[row.outcome, default: 0] += 1 }
        for (outcome, count) in counts { importRows[outcome]?.increment(by: Int64(count)) }
    }

    func mailLeased(_ count: Int) {
        if count > 0 { mailLeased.increment(by: Int64(count)) }
    }

    func mailAcknowledged(_ count: Int) {
        if count > 0 { mailAcknowledged.increment(by: Int64(count)) }
    }

    func mailFailed(_ outcome: FailureOutcome) {
        switch outcome {
        case .retry: mailRetried.increment()
        case .dead: mailDead.increment()
        case .stale: break
        }
    }

    // MARK: PasswordHashObserver

    public func hashed(waited: Duration, took: Duration) {
        hashWait.recordNanoseconds(Self.nanoseconds(waited))
        hashDuration.recordNanoseconds(Self.nanoseconds(took))
    }

    public func refused() {
        hashRefused.increment()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
