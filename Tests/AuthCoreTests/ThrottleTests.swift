import Testing
@testable import AuthCore

@Suite("BackoffRule and Throttler")
struct ThrottleTests {
    let rule = BackoffRule(freeFailures: 5, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600))
    let key = ThrottleKey(.loginAccount, "ada@example.com")

    @Test func freeFailuresThenDoublingUpToTheCap() {
        #expect((0..<5).allSatisfy { rule.delay(after: $0) == nil })
        #expect(rule.delay(after: 5) == .seconds(1))
        #expect(rule.delay(after: 6) == .seconds(2))
        #expect(rule.delay(after: 7) == .seconds(4))
        #expect(rule.delay(after: 14) == .seconds(512))
        #expect(rule.delay(after: 15) == .seconds(900))
        #expect(rule.delay(after: 1_000_000) == .seconds(900))
    }

    @Test func aReservationWaitsFromTheLastFailureWithinTheWindow() {
        let reservation = ThrottleReservation(key, rule: rule)
        let record = ThrottleRecord(failures: 6, windowStartedAt: t0, lastFailureAt: t0 + .seconds(10))
        #expect(reservation.allowedAt(after: nil, now: t0) == nil)
        #expect(reservation.allowedAt(after: record, now: t0 + .seconds(11)) == t0 + .seconds(12))
        #expect(reservation.allowedAt(after: record, now: t0 + .seconds(12)) == nil)
        // Once the window has passed, old failures are forgotten.
        let old = ThrottleRecord(failures: 50, windowStartedAt: t0, lastFailureAt: t0 + .seconds(3599))
        #expect(reservation.allowedAt(after: old, now: t0 + .seconds(3600)) == nil)
        #expect(reservation.allowedAt(after: old, now: t0 + .seconds(3599)) != nil)
    }

    @Test func theThrottlerRefusesWithTheWaitRoundedUpToSeconds() async throws {
        let store = InMemoryThrottles()
        await store.set(key, ThrottleRecord(failures: 7, windowStartedAt: t0, lastFailureAt: t0))
        let throttler = Throttler(store: store)
        let error = await #expect(throws: AuthError.self) {
            try await throttler.reserve([ThrottleReservation(key, rule: rule)], now: t0 + .milliseconds(500)) { _ in "logins" }
        }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.retryAfter == .milliseconds(3500))
        #expect(error?.message == "too many failed logins; try again in 4 s")
        // Refused: nothing was counted.
        #expect(await store.throttle(key: key)?.failures == 7)
        try await throttler.reserve([ThrottleReservation(key, rule: rule)], now: t0 + .seconds(4)) { _ in "logins" }
        #expect(await store.throttle(key: key)?.failures == 8)
    }

    @Test func anHourlyQuotaRefusesTheRequestOverTheLimit() async throws {
        let store = InMemoryThrottles()
        let throttler = Throttler(store: store)
        let forgot = ThrottleKey(.forgotEmail, "ada@example.com")
        for minute in 0..<3 {
            try await throttler.consumeHourlyQuota(forgot, limit: 3, now: t0 + .seconds(Int64(minute) * 60), what: "codes")
        }
        let error = await #expect(throws: AuthError.self) {
            try await throttler.consumeHourlyQuota(forgot, limit: 3, now: t0 + .seconds(600), what: "codes")
        }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.retryAfter == .seconds(3000))
        // A new hour, a new quota.
        try await throttler.consumeHourlyQuota(forgot, limit: 3, now: t0 + .seconds(3600), what: "codes")
    }

    @Test func keysOfOneAccountAreTheSameWhoeverBuildsThem() {
        #expect(ThrottleKey(.loginAccount, "ada@example.com") == ThrottleKey(.loginAccount, "ada@example.com"))
        #expect(ThrottleKey(.loginAccount, "ada@example.com") != ThrottleKey(.loginAddress, "ada@example.com"))
        #expect(ThrottleKey(.loginAccount, "ada@example.com").description == "login-email:ada@example.com")
        #expect(ThrottleKey(.mailbox, "ada@example.com").description == "mailbox:ada@example.com")
    }
}
