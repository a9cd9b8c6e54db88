import AuthdTesting
import Testing
@testable import AuthCore

@Suite("LoginGate: one password check per account, throttled in the account's turn", .timeLimit(.minutes(1)))
struct LoginGateTests {
    static let lenient = BackoffRule(freeFailures: 1000, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600))
    static let strict = BackoffRule(freeFailures: 5, baseDelay: .seconds(1), maximumDelay: .seconds(900), window: .seconds(3600))
    let ada = ThrottleKey(.loginAccount, "ada@example.com")
    let bob = ThrottleKey(.loginAccount, "bob@example.com")
    let address = ThrottleKey(.loginAddress, "203.0.113.7")

    func check<Value: Sendable>(
        _ gate: LoginGate,
        _ account: ThrottleKey,
        address: ThrottleKey? = nil,
        rule: BackoffRule = lenient,
        clearOnSuccess: Bool = true,
        _ body: @Sendable @escaping () async throws(AuthError) -> LoginGate.Verdict<Value>
    ) async throws(AuthError) -> Value {
        try await gate.check(
            account: account, accountRule: rule, address: address, addressRule: rule, what: "logins", at: t0,
            clearOnSuccess: clearOnSuccess, body)
    }

    @Test func checksOfOneAccountNeverOverlap() async throws {
        let gate = LoginGate(throttles: InMemoryThrottles())
        let running = Shared((now: 0, most: 0))
        let account = ada
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    _ = try? await check(gate, account) { () async throws(AuthError) -> LoginGate.Verdict<Int> in
                        running.update { $0.now += 1; $0.most = max($0.most, $0.now) }
                        for _ in 0..<20 { await Task.yield() }
                        running.update { $0.now -= 1 }
                        return .rejected(.invalidCredentials)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(running.current.most == 1)
    }

    @Test func anotherAccountIsNotHeldUpByAWaitingCheck() async throws {
        let gate = LoginGate(throttles: InMemoryThrottles())
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        let account = ada
        let slow = Task {
            try await check(gate, account) { () async throws(AuthError) -> LoginGate.Verdict<String> in
                startedContinuation.yield()
                for await _ in release { break }
                return .accepted("ada")
            }
        }
        for await _ in started { break }
        // Ada's check is inside its turn and waits; Bob's runs to the end meanwhile.
        let other = try await check(gate, bob) { () async throws(AuthError) -> LoginGate.Verdict<String> in .accepted("bob") }
        #expect(other == "bob")
        releaseContinuation.yield()
        #expect(try await slow.value == "ada")
    }

    @Test func aRejectedCheckCountsAgainstAccountAndAddress() async throws {
        let throttles = InMemoryThrottles()
        let gate = LoginGate(throttles: throttles)
        await #expect(throws: AuthError.invalidCredentials) {
            _ = try await check(gate, ada, address: address) { () async throws(AuthError) -> LoginGate.Verdict<Int> in
                .rejected(.invalidCredentials)
            }
        }
        #expect(await throttles.throttle(key: ada)?.failures == 1)
        #expect(await throttles.throttle(key: address)?.failures == 1)
    }

    @Test func theThrottleIsCheckedBeforeThePasswordIs() async throws {
        let throttles = InMemoryThrottles()
        // Five free failures used, the last one just now: the sixth attempt waits 1 s.
        await throttles.set(ada, ThrottleRecord(failures: 5, windowStartedAt: t0 - .seconds(60), lastFailureAt: t0))
        let gate = LoginGate(throttles: throttles)
        let ran = Shared(false)
        let error = await #expect(throws: AuthError.self) {
            _ = try await check(gate, ada, rule: Self.strict) { () async throws(AuthError) -> LoginGate.Verdict<Int> in
                ran.update { $0 = true }
                return .accepted(1)
            }
        }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.retryAfter == .seconds(1))
        #expect(error?.message.contains("logins for this account") == true)
        #expect(ran.current == false)
        #expect(await throttles.throttle(key: ada)?.failures == 5)
    }

    @Test func anAcceptedCheckClearsTheAccountAndGivesTheAddressItsCountBack() async throws {
        let throttles = InMemoryThrottles()
        await throttles.set(ada, ThrottleRecord(failures: 3, windowStartedAt: t0, lastFailureAt: t0))
        await throttles.set(address, ThrottleRecord(failures: 2, windowStartedAt: t0, lastFailureAt: t0))
        let gate = LoginGate(throttles: throttles)
        let value = try await check(gate, ada, address: address) { () async throws(AuthError) -> LoginGate.Verdict<Int> in .accepted(7) }
        #expect(value == 7)
        #expect(await throttles.throttle(key: ada) == nil)
        #expect(await throttles.throttle(key: address)?.failures == 2)

        // Without clearOnSuccess the account's count is only given back.
        await throttles.set(bob, ThrottleRecord(failures: 3, windowStartedAt: t0, lastFailureAt: t0))
        _ = try await check(gate, bob, clearOnSuccess: false) { () async throws(AuthError) -> LoginGate.Verdict<Int> in .accepted(1) }
        #expect(await throttles.throttle(key: bob)?.failures == 3)
    }

    @Test func aRefusedCheckCountsNothing() async throws {
        let throttles = InMemoryThrottles()
        let gate = LoginGate(throttles: throttles)
        let blocked = AuthError(.permissionDenied, "this account is blocked")
        await #expect(throws: blocked) {
            _ = try await check(gate, ada, address: address) { () async throws(AuthError) -> LoginGate.Verdict<Int> in .refused(blocked) }
        }
        #expect(await throttles.throttle(key: ada)?.failures ?? 0 == 0)
        #expect(await throttles.throttle(key: address)?.failures ?? 0 == 0)
    }

    @Test func aCheckThatFailsItselfCountsNothing() async throws {
        let throttles = InMemoryThrottles()
        let gate = LoginGate(throttles: throttles)
        await #expect(throws: AuthError.storage("down")) {
            _ = try await check(gate, ada, address: address) { () async throws(AuthError) -> LoginGate.Verdict<Int> in
                throw AuthError.storage("down")
            }
        }
        #expect(await throttles.throttle(key: ada)?.failures ?? 0 == 0)
        #expect(await throttles.throttle(key: address)?.failures ?? 0 == 0)
    }

    @Test func tenParallelGuessesGetTheFiveFreeTriesAndFiveRefusals() async throws {
        let throttles = InMemoryThrottles()
        let gate = LoginGate(throttles: throttles)
        let tries = Shared(0)
        let account = ada
        let codes = await withTaskGroup(of: AuthError.Code.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    do {
                        _ = try await check(gate, account, rule: Self.strict) { () async throws(AuthError) -> LoginGate.Verdict<Int> in
                            tries.update { $0 += 1 }
                            return .rejected(.invalidCredentials)
                        }
                        return .internal
                    } catch let error as AuthError {
                        return error.code
                    } catch {
                        return .internal
                    }
                }
            }
            return await group.reduce(into: [AuthError.Code]()) { $0.append($1) }
        }
        #expect(tries.current == 5)
        #expect(codes.filter { $0 == .unauthenticated }.count == 5)
        #expect(codes.filter { $0 == .resourceExhausted }.count == 5)
    }
}
