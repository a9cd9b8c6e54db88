import Synchronization
@testable import AuthCore

// In-memory stand-ins for the store, for unit tests of the logic above it. Each keeps only
// what its tests read; a method no test calls refuses, so a test cannot pass by accident
// through a part that is not faked.

let t0 = Timestamp(milliseconds: 1_800_000_000_000)

/// A value that tests update from concurrent tasks.
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) {
        self.value = Mutex(value)
    }

    var current: Value { value.withLock { $0 } }

    func update(_ body: (inout Value) -> Void) {
        value.withLock { body(&$0) }
    }
}

func notFaked(_ method: String = #function) -> AuthError {
    AuthError(.internal, "\(method) is not part of the fake")
}

/// Throttle counters as `ThrottleStore` defines them, in a dictionary.
actor InMemoryThrottles: ThrottleStore {
    private(set) var records: [ThrottleKey: ThrottleRecord] = [:]
    /// Every call, in order: "reserve", "forgive", "clear", "record".
    private(set) var calls: [String] = []

    func throttle(key: ThrottleKey) -> ThrottleRecord? {
        records[key]
    }

    func recordFailure(key: ThrottleKey, window: Duration, at now: Timestamp) -> ThrottleRecord {
        calls.append("record")
        return count(key, window: window, at: now)
    }

    func clearFailures(key: ThrottleKey) {
        calls.append("clear")
        records[key] = nil
    }

    func reserveAttempt(_ reservations: [ThrottleReservation], at now: Timestamp) -> ThrottleVerdict {
        calls.append("reserve")
        for reservation in reservations {
            if let until = reservation.allowedAt(after: records[reservation.key], now: now) {
                return .refused(key: reservation.key, until: until)
            }
        }
        for reservation in reservations {
            _ = count(reservation.key, window: reservation.rule.window, at: now)
        }
        return .allowed
    }

    func forgiveFailure(key: ThrottleKey) {
        calls.append("forgive")
        guard var record = records[key] else { return }
        record.failures = max(record.failures - 1, 0)
        records[key] = record
    }

    func deleteThrottles(idleSince cutoff: Timestamp) throws(AuthError) -> Int {
        throw notFaked()
    }

    /// Sets a counter as a test needs it.
    func set(_ key: ThrottleKey, _ record: ThrottleRecord) {
        records[key] = record
    }

    private func count(_ key: ThrottleKey, window: Duration, at now: Timestamp) -> ThrottleRecord {
        var record = records[key] ?? ThrottleRecord(failures: 0, windowStartedAt: now, lastFailureAt: now)
        if record.windowStartedAt <= now - window {
            record = ThrottleRecord(failures: 0, windowStartedAt: now, lastFailureAt: now)
        }
        record.failures += 1
        record.lastFailureAt = now
        records[key] = record
        return record
    }
}

/// Groups and settings in memory; `groups()` can be held at a gate, so that a test decides
/// when a directory load that reads it goes on.
actor InMemoryDirectoryStore: DirectoryStore {
    private var storedGroups: [Group] = []
    private var storedSettings: [Settings.Key: String] = [:]
    private(set) var groupReads = 0
    private var hold: (started: AsyncStream<Void>.Continuation, release: AsyncStream<Void>)?

    /// The next `groups()` reads the groups, yields on `started`, and returns only once
    /// `release` yields: what the directory loads meanwhile is what it read before.
    func holdNextGroupsRead(started: AsyncStream<Void>.Continuation, release: AsyncStream<Void>) {
        hold = (started, release)
    }

    func groups() async -> [Group] {
        groupReads += 1
        let read = storedGroups
        if let hold {
            self.hold = nil
            hold.started.yield()
            for await _ in hold.release { break }
        }
        return read
    }

    func createGroup(name: String, roles: [String], at now: Timestamp) -> Group {
        let group = Group(name: name, roles: roles.sorted())
        storedGroups.append(group)
        return group
    }

    func pageRules() -> [PageRule] { [] }

    func settings() -> [Settings.Key: String] { storedSettings }

    func updateSettings(_ values: [Settings.Key: String]) -> [Settings.Key: String] {
        storedSettings.merge(values) { $1 }
        return storedSettings
    }

    func emailTemplate(kind: TemplateKind) -> StoredEmailTemplate? { nil }

    func createRole(name: String, at now: Timestamp) throws(AuthError) -> RoleInfo { throw notFaked() }
    func renameRole(name: String, to newName: String) throws(AuthError) -> RoleInfo { throw notFaked() }
    func deleteRole(name: String) throws(AuthError) { throw notFaked() }
    func roles() throws(AuthError) -> [RoleInfo] { throw notFaked() }
    func missingRoles(_ names: [String]) throws(AuthError) -> [String] { throw notFaked() }
    func renameGroup(name: String, to newName: String) throws(AuthError) -> Group { throw notFaked() }
    func deleteGroup(name: String) throws(AuthError) { throw notFaked() }
    func setGroupRoles(name: String, roles: [String]) throws(AuthError) -> Group { throw notFaked() }
    func upsertPageRule(_ rule: PageRule, at now: Timestamp) throws(AuthError) -> PageRule { throw notFaked() }
    func deletePageRule(pattern: String) throws(AuthError) -> Bool { throw notFaked() }
    func setEmailTemplate(_ template: StoredEmailTemplate) throws(AuthError) { throw notFaked() }
    func deleteEmailTemplate(kind: TemplateKind) throws(AuthError) -> Bool { throw notFaked() }
    func removeEverything() throws(AuthError) -> RemovalCounts { throw notFaked() }
}

/// An outbox that answers a failure report with `failureOutcome` and keeps what it was asked.
actor RecordingOutboxStore: OutboxStore {
    var failureOutcome: FailureOutcome = .retry(at: t0)
    private(set) var leaseRequests: [(workerID: String, limit: Int, leaseUntil: Timestamp, maximumAttempts: Int)] = []
    private(set) var reports: [(reason: String, permanent: Bool, maximumAttempts: Int, retryAt: [Timestamp])] = []

    func answerFailures(with outcome: FailureOutcome) {
        failureOutcome = outcome
    }

    func leaseMessages(workerID: String, limit: Int, leaseUntil: Timestamp, maximumAttempts: Int, at now: Timestamp) -> [OutboxLease] {
        leaseRequests.append((workerID, limit, leaseUntil, maximumAttempts))
        return []
    }

    /// Records `retryAt` for the first ten attempt counts, so a test can check the policy's delays.
    func reportFailure(
        _ lease: LeaseReference,
        permanent: Bool,
        reason: String,
        maximumAttempts: Int,
        retryAt: @escaping @Sendable (Int) -> Timestamp,
        at now: Timestamp
    ) -> FailureOutcome {
        reports.append((reason, permanent, maximumAttempts, (1...10).map(retryAt)))
        return failureOutcome
    }

    func acknowledge(_ leases: [LeaseReference], at now: Timestamp) throws(AuthError) -> [Int64] { throw notFaked() }
    func renewLeases(_ leases: [LeaseReference], until: Timestamp, at now: Timestamp) throws(AuthError) -> [Int64] { throw notFaked() }
    func releaseLeases(_ leases: [LeaseReference], at now: Timestamp) throws(AuthError) -> [Int64] { throw notFaked() }
    func queueStatistics(at now: Timestamp) throws(AuthError) -> QueueStatistics { throw notFaked() }
    func deadMessages(afterID: Int64?, limit: Int) throws(AuthError) -> [DeadMessage] { throw notFaked() }
    func requeueDeadMessages(ids: [Int64], at now: Timestamp) throws(AuthError) -> Int { throw notFaked() }
    func deleteSentMessages(sentBefore cutoff: Timestamp) throws(AuthError) -> Int { throw notFaked() }
}
