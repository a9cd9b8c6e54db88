/// Password checks against an account, one at a time per account, each counted against
/// the account's and the address's throttles before it runs and taken back if it
/// succeeds.
///
/// A parallel guess waits for the previous guess's failure to be counted instead of
/// slipping between the check and the count, so ten parallel guesses get the throttle's
/// five tries and five refusals, not ten tries. Other accounts are not slowed: the gate
/// holds only the order of turns; the check itself (the password hash) runs outside it.
public actor LoginGate {
    private let throttler: Throttler
    /// Accounts with a check running, and the checks waiting for their turn, in order.
    private var waiting: [ThrottleKey: [CheckedContinuation<Void, Never>]] = [:]

    public init(throttles: any ThrottleStore) {
        self.throttler = Throttler(store: throttles)
    }

    /// What a password check found.
    public enum Verdict<Value: Sendable>: Sendable {
        /// The password matched: `value` is what the caller goes on with.
        case accepted(Value)
        /// The password did not match (or there is no account): `error` is the answer, and
        /// the failure counts against the account and the address.
        case rejected(AuthError)
        /// The password matched but the account may not proceed (blocked): nothing counts.
        case refused(AuthError)
    }

    /// Runs `check` in the account's turn once the throttles allow it.
    ///
    /// - Parameters:
    ///   - account: the throttle key of the account (its normalised email).
    ///   - address: the end user's address's key, when the caller reported one.
    ///   - clearOnSuccess: whether an accepted check forgets the account's failures
    ///     (a login does; a password check inside a session does not need to).
    public func check<Value: Sendable>(
        account: ThrottleKey,
        accountRule: BackoffRule,
        address: ThrottleKey?,
        addressRule: BackoffRule,
        what: String,
        at now: Timestamp,
        clearOnSuccess: Bool,
        _ check: @Sendable () async throws(AuthError) -> Verdict<Value>
    ) async throws(AuthError) -> Value {
        await takeTurn(account)
        defer { passTurn(account) }
        var reservations = [ThrottleReservation(account, rule: accountRule)]
        if let address { reservations.append(ThrottleReservation(address, rule: addressRule)) }
        // Counted before the check, atomically with the throttle check: parallel attempts
        // from one address on many accounts see each other's counts.
        try await throttler.reserve(reservations, now: now) { key in
            key == account ? "\(what) for this account" : "\(what) from this address"
        }
        let verdict: Verdict<Value>
        do throws(AuthError) {
            verdict = try await check()
        } catch {
            // The check itself failed (the store, say): the attempt tells nothing.
            try? await forgiveAll(reservations)
            throw error
        }
        switch verdict {
        case .accepted(let value):
            if clearOnSuccess {
                try await throttler.clear(account)
            } else {
                try await throttler.forgive(account)
            }
            if let address { try await throttler.forgive(address) }
            return value
        case .rejected(let error):
            throw error  // counted already
        case .refused(let error):
            try await forgiveAll(reservations)
            throw error
        }
    }

    private func forgiveAll(_ reservations: [ThrottleReservation]) async throws(AuthError) {
        for reservation in reservations {
            try await throttler.forgive(reservation.key)
        }
    }

    private func takeTurn(_ account: ThrottleKey) async {
        guard waiting[account] != nil else {
            waiting[account] = []  // this check runs; nobody waits yet
            return
        }
        await withCheckedContinuation { continuation in
            waiting[account, default: []].append(continuation)
        }
    }

    private func passTurn(_ account: ThrottleKey) {
        guard var queue = waiting[account], !queue.isEmpty else {
            waiting[account] = nil
            return
        }
        let next = queue.removeFirst()
        waiting[account] = queue
        next.resume()  // the turn passes to the next waiting check
    }
}
