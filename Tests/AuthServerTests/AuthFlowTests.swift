import AuthClient
import AuthCore
import AuthCrypto
import AuthdTesting
import Foundation
import Testing
import AuthStore

/// Asserts that `body` fails with `code`, and returns the error for more checks.
@discardableResult
func expectRPCError<T>(
    _ code: AuthV1.Code,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> RPCError? {
    do {
        _ = try await body()
        Issue.record("expected \(code), the call succeeded", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `count` calls at once and returns each one's status code (OK for a success).
func parallelOutcomes(_ count: Int, _ call: @escaping @Sendable (Int) async throws -> Void) async -> [AuthV1.Code] {
    await withTaskGroup(of: AuthV1.Code.self) { group in
        for index in 0..<count {
            group.addTask {
                do {
                    try await call(index)
                    return .ok
                } catch let error as RPCError {
                    return error.code
                } catch {
                    return .unknown
                }
            }
        }
        return await group.reduce(into: [AuthV1.Code]()) { $0.append($1) }
    }
}

@Suite("Sign-up, login, sessions")
struct SignUpLoginTests {
    @Test("sign-up returns a prefixed 256-bit token that GetMe accepts")
    func signUpAndGetMe() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await authd.client.signUp("  Ada@Example.COM ", attributes: ["name": "Ada", "image": "https://img.example/a.png"])
            let token = try #require(response.session?.token)
            #expect(token.hasPrefix("authd_st_"))
            #expect(token.count >= "authd_st_".count + 43)  // 32 bytes in base64url
            #expect(response.user?.email == "ada@example.com")
            let me = try await authd.client.me(token)
            #expect(me.id == response.user?.id)
            #expect(me.attributes == ["name": "Ada", "image": "https://img.example/a.png"])
            #expect(me.hasPassword)
            #expect(UUID(uuidString: me.id) != nil)
        }
    }

    @Test("a second sign-up with the same email in another case is ALREADY_EXISTS")
    func duplicateEmail() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("grace@example.com")
            let error = await expectRPCError(.alreadyExists) { try await authd.client.signUp("GRACE@example.com") }
            #expect(error?.fieldViolations.first?.field == "email")
        }
    }

    @Test("login with the right password opens a new session; wrong password and unknown email answer alike")
    func loginOutcomes() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("linus@example.com", "first password")
            let session = try await authd.client.login("LINUS@example.com", "first password")
            #expect(session.user?.email == "linus@example.com")
            #expect(try await authd.client.me(session.session!.token).email == "linus@example.com")

            let wrong = await expectRPCError(.unauthenticated) { try await authd.client.login("linus@example.com", "second password") }
            let unknown = await expectRPCError(.unauthenticated) { try await authd.client.login("nobody@example.com", "second password") }
            #expect(wrong?.message == unknown?.message)
            #expect(wrong?.message == "email or password is wrong")
        }
    }

    @Test("logout ends the session at once; logging out twice is fine")
    func logout() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("ken@example.com").session!.token
            _ = try await authd.client.auth.logout(AuthV1.LogoutRequest(token: token))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            _ = try await authd.client.auth.logout(AuthV1.LogoutRequest(token: token))
        }
    }

    @Test("garbage, foreign and empty tokens are UNAUTHENTICATED", arguments: ["", "nonsense", "authd_st_AAAA", "Bearer authd_st_x"])
    func badTokens(token: String) async throws {
        try await withTestAuthd { authd async throws in
            let error = await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            #expect(error?.message == "session is invalid or has expired; sign in again")
        }
    }

    @Test("a session dies after its idle timeout, and use keeps it alive until the absolute one")
    func sessionExpiry() async throws {
        let identity = IdentityConfiguration(
            sessions: SessionPolicy(idleTimeout: .seconds(600), absoluteTimeout: .seconds(1800), touchInterval: .seconds(60))
        )
        try await withTestAuthd(identity: identity) { authd async throws in
            let idle = try await authd.client.signUp("idle@example.com").session!.token
            let busy = try await authd.client.login("idle@example.com", "correct horse").session!.token
            // Use `busy` every 5 minutes; leave `idle` alone.
            for _ in 0..<3 {
                authd.clock.advance(by: .seconds(300))
                _ = try await authd.client.me(busy)
            }
            await expectRPCError(.unauthenticated) { try await authd.client.me(idle) }
            _ = try await authd.client.me(busy)  // 15 minutes in, still alive
            authd.clock.advance(by: .seconds(599))  // 24:59: each use pushes the idle expiry, capped by the absolute one
            _ = try await authd.client.me(busy)
            authd.clock.advance(by: .seconds(299))  // 29:58
            _ = try await authd.client.me(busy)
            authd.clock.advance(by: .seconds(2))  // 30:00, the absolute expiry
            await expectRPCError(.unauthenticated) { try await authd.client.me(busy) }
        }
    }

    @Test("a blocked user's session fails at its next call, and login says the account is blocked")
    func blockedUser() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await authd.client.signUp("blocked@example.com")
            let token = response.session!.token
            _ = try await authd.client.me(token)
            _ = try await authd.adminClient.admin.blockUser(AuthV1.UserIdRequest(id: response.user!.id))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            let login = await expectRPCError(.permissionDenied) { try await authd.client.login("blocked@example.com", "correct horse") }
            #expect(login?.message == "this account is blocked")
            // A wrong password still gets the answer that reveals nothing.
            await expectRPCError(.unauthenticated) { try await authd.client.login("blocked@example.com", "wrong horse") }
        }
    }

    @Test("a deleted user's session fails at its next call")
    func deletedUser() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await authd.client.signUp("gone@example.com")
            _ = try await authd.client.me(response.session!.token)
            _ = try await authd.adminClient.admin.deleteUser(AuthV1.UserIdRequest(id: response.user!.id))
            await expectRPCError(.unauthenticated) { try await authd.client.me(response.session!.token) }
        }
    }

    @Test("users and sessions survive a restart of authd on the same file")
    func restart() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("durable@example.com", attributes: ["plan": "gold"]).session!.token
            try await authd.restart()
            let me = try await authd.client.me(token)
            #expect(me.email == "durable@example.com")
            #expect(me.attributes == ["plan": "gold"])
            _ = try await authd.client.login("durable@example.com", "correct horse")
        }
    }

    @Test("a hash made with older scrypt parameters is upgraded at the next login")
    func rehashOnLogin() async throws {
        let cheap = try ScryptParameters(logN: 4, r: 8, p: 1)
        try await withTestAuthd(scrypt: cheap) { authd async throws in
            _ = try await authd.client.signUp("upgrade@example.com")
            try await authd.stop()
            let storedBefore = try await (try await authd.openStorage()).credentials(email: "upgrade@example.com")?.passwordHash

            #expect(storedBefore?.hasPrefix("$scrypt$ln=4,r=8,p=1$") == true)

            try await authd.restart(scrypt: .testing)
            _ = try await authd.client.login("upgrade@example.com", "correct horse")
            let storedAfter = try await (try await authd.openStorage()).credentials(email: "upgrade@example.com")?.passwordHash
            #expect(storedAfter?.hasPrefix("$scrypt$ln=\(ScryptParameters.testing.logN),r=8,p=1$") == true)
            // The upgraded hash still opens the door, and the old session was not ended.
            _ = try await authd.client.login("upgrade@example.com", "correct horse")
        }
    }
}

@Suite("Profile and password changes")
struct ProfileTests {
    @Test("UpdateProfile sets and removes attributes and changes the email, unique case-insensitively, once confirmed")
    func updateProfile() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("old@example.com", attributes: ["name": "Old", "city": "Oslo"]).session!.token
            _ = try await authd.client.signUp("taken@example.com")
            let updated = try await authd.client.auth.updateProfile(
                AuthV1.UpdateProfileRequest(
                    token: token, setAttributes: ["name": "New"], removeAttributes: ["city"],
                    email: AuthV1.StringValue(value: "New@Example.com"), currentPassword: "correct horse")
            )
            // Attributes change at once; the email waits for the code sent to the new address.
            #expect(updated.user?.email == "old@example.com")
            #expect(updated.user?.attributes == ["name": "New"])
            #expect(updated.pendingEmail == "new@example.com")
            let code = try #require(try await authd.lastCode(for: "new@example.com"))
            let confirmed = try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code)).user
            #expect(confirmed?.email == "new@example.com")
            let conflict = await expectRPCError(.alreadyExists) {
                try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                    token: token, email: AuthV1.StringValue(value: "TAKEN@example.com"), currentPassword: "correct horse"))
            }
            #expect(conflict?.fieldViolations.first?.field == "email")
            _ = try await authd.client.login("new@example.com", "correct horse")
            await expectRPCError(.unauthenticated) { try await authd.client.login("old@example.com", "correct horse") }
        }
    }

    @Test("ChangePassword needs the old password and ends every other session, keeping the caller's")
    func changePassword() async throws {
        try await withTestAuthd { authd async throws in
            let mine = try await authd.client.signUp("change@example.com", "before change").session!.token
            let other = try await authd.client.login("change@example.com", "before change").session!.token
            let wrongOld = await expectRPCError(.permissionDenied) {
                try await authd.client.auth.changePassword(AuthV1.ChangePasswordRequest(token: mine, oldPassword: "not it", newPassword: "after change"))
            }
            #expect(wrongOld?.fieldViolations.first?.field == "old_password")
            _ = try await authd.client.auth.changePassword(AuthV1.ChangePasswordRequest(token: mine, oldPassword: "before change", newPassword: "after change"))
            _ = try await authd.client.me(mine)
            await expectRPCError(.unauthenticated) { try await authd.client.me(other) }
            await expectRPCError(.unauthenticated) { try await authd.client.login("change@example.com", "before change") }
            _ = try await authd.client.login("change@example.com", "after change")
        }
    }
}

@Suite("Forgot and confirm password")
struct PasswordResetTests {
    @Test("ForgotPassword emails an 8-digit code through the outbox; ConfirmPassword sets the password and ends every session")
    func resetFlow() async throws {
        try await withTestAuthd { authd async throws in
            let session = try await authd.client.signUp("reset@example.com", "forgotten one").session!.token
            let answer = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "Reset@example.com"))
            #expect(answer.codeValidForSeconds == 900)
            let messages = try await authd.outboxMessages(recipient: "reset@example.com")
            #expect(messages.count == 1)
            #expect(messages.first?.state == .queued)
            #expect(messages.first?.message.subject == "Your authd verification code")
            let code = try #require(try await authd.lastCode(for: "reset@example.com"))
            #expect(code.count == 8)

            _ = try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "reset@example.com", code: code, newPassword: "remembered one"))
            await expectRPCError(.unauthenticated) { try await authd.client.me(session) }
            _ = try await authd.client.login("reset@example.com", "remembered one")
            // Single use.
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "reset@example.com", code: code, newPassword: "third one"))
            }
        }
    }

    @Test("an unknown email gets the same answer and no email")
    func unknownEmail() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("known@example.com")
            let known = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "known@example.com"))
            let unknown = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "unknown@example.com"))
            #expect(known == unknown)
            #expect(try await authd.outboxMessages(recipient: "unknown@example.com").isEmpty)
            let confirm = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "unknown@example.com", code: "12345678", newPassword: "whatever1"))
            }
            let wrong = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "known@example.com", code: "12345678", newPassword: "whatever1"))
            }
            #expect(confirm?.message == wrong?.message)
        }
    }

    @Test("a newer code voids the older one")
    func newerCodeVoidsOlder() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("twice@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "twice@example.com"))
            let first = try #require(try await authd.lastCode(for: "twice@example.com"))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "twice@example.com"))
            let second = try #require(try await authd.lastCode(for: "twice@example.com"))
            if first != second {
                await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "twice@example.com", code: first, newPassword: "new password"))
                }
            }
            _ = try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "twice@example.com", code: second, newPassword: "new password"))
        }
    }

    @Test("a code expires after 15 minutes")
    func expiredCode() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("late@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "late@example.com"))
            let code = try #require(try await authd.lastCode(for: "late@example.com"))
            authd.clock.advance(by: .seconds(15 * 60 + 1))
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "late@example.com", code: code, newPassword: "too late now"))
            }
        }
    }

    @Test("five wrong tries void the code, even when the guesses arrive in parallel")
    func parallelGuesses() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("guess@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "guess@example.com"))
            let code = try #require(try await authd.lastCode(for: "guess@example.com"))
            let client = authd.client
            // Exactly five: with the next test (four leave the code alive) this pins the limit at five.
            let outcomes = await parallelOutcomes(5) { index in
                let wrong = String(format: "%08d", (Int(code)! + 1 + index) % 100_000_000)
                _ = try await client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "guess@example.com", code: wrong, newPassword: "guessed pw"))
            }
            #expect(outcomes.allSatisfy { $0 == .invalidArgument })
            // The right code no longer works: the wrong tries voided it.
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "guess@example.com", code: code, newPassword: "right but late"))
            }
        }
    }

    @Test("four wrong tries in parallel leave the code alive: tries are counted, not multiplied")
    func fewParallelGuesses() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("four@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "four@example.com"))
            let code = try #require(try await authd.lastCode(for: "four@example.com"))
            let client = authd.client
            let outcomes = await parallelOutcomes(4) { index in
                let wrong = String(format: "%08d", (Int(code)! + 1 + index) % 100_000_000)
                _ = try await client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "four@example.com", code: wrong, newPassword: "guessed pw"))
            }
            #expect(outcomes.allSatisfy { $0 == .invalidArgument })
            _ = try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "four@example.com", code: code, newPassword: "the right one"))
            _ = try await authd.client.login("four@example.com", "the right one")
        }
    }

    @Test("ForgotPassword is throttled per email per hour, known or not")
    func forgotThrottle() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("flood@example.com")
            for email in ["flood@example.com", "ghost@example.com"] {
                for _ in 0..<3 {
                    _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: email))
                }
                let error = await expectRPCError(.resourceExhausted) {
                    try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: email))
                }
                #expect((error?.retryAfterMilliseconds ?? 0) > 0)
            }
            authd.clock.advance(by: .seconds(3601))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "flood@example.com"))
        }
    }
}

@Suite("Throttling")
struct ThrottleTests {
    @Test("failed logins per account back off exponentially, then recover")
    func perAccount() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("target@example.com", "the real one")
            for _ in 0..<5 {
                await expectRPCError(.unauthenticated) { try await authd.client.login("target@example.com", "guess") }
            }
            // Sixth try within the back-off: refused before the password is even checked.
            let throttled = await expectRPCError(.resourceExhausted) { try await authd.client.login("target@example.com", "the real one") }
            #expect(throttled?.retryAfterMilliseconds == 1000)
            authd.clock.advance(by: .seconds(1))
            await expectRPCError(.unauthenticated) { try await authd.client.login("target@example.com", "guess") }
            let longer = await expectRPCError(.resourceExhausted) { try await authd.client.login("target@example.com", "the real one") }
            #expect(longer?.retryAfterMilliseconds == 2000)
            authd.clock.advance(by: .seconds(2))
            _ = try await authd.client.login("target@example.com", "the real one")
            // Success clears the account's count.
            await expectRPCError(.unauthenticated) { try await authd.client.login("target@example.com", "guess") }
        }
    }

    @Test("parallel guesses for one account do not multiply: they wait for each other's failure")
    func parallelGuesses() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("parallel@example.com", "the real one")
            let client = authd.client
            let codes = await parallelOutcomes(10) { index in
                _ = try await client.login("parallel@example.com", "guess \(index)")
            }
            #expect(codes.filter { $0 == .unauthenticated }.count == 5)
            #expect(codes.filter { $0 == .resourceExhausted }.count == 5)
        }
    }

    @Test("unknown emails are throttled exactly like known ones")
    func unknownEmailThrottled() async throws {
        try await withTestAuthd { authd async throws in
            for _ in 0..<5 {
                await expectRPCError(.unauthenticated) { try await authd.client.login("phantom@example.com", "guess") }
            }
            await expectRPCError(.resourceExhausted) { try await authd.client.login("phantom@example.com", "guess") }
        }
    }

    @Test("failed logins per client address are throttled across accounts")
    func perAddress() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("victim@example.com", "the real one")
            for index in 0..<20 {
                await expectRPCError(.unauthenticated) { try await authd.client.login("user\(index)@example.com", "guess", from: "198.51.100.7") }
            }
            let throttled = await expectRPCError(.resourceExhausted) {
                try await authd.client.login("victim@example.com", "the real one", from: "198.51.100.7")
            }
            #expect(throttled?.message.contains("address") == true)
            // Another address is not affected.
            _ = try await authd.client.login("victim@example.com", "the real one", from: "198.51.100.8")
            authd.clock.advance(by: .seconds(1))
            _ = try await authd.client.login("victim@example.com", "the real one", from: "198.51.100.7")
        }
    }
}

@Suite("Bad input")
struct BadInputTests {
    @Test("each bad sign-up names its field", arguments: [
        ("not-an-email", "correct horse", [:], "email"),
        ("two@@example.com", "correct horse", [:], "email"),
        ("", "correct horse", [:], "email"),
        ("nodomain@localhost", "correct horse", [:], "email"),
        (String(repeating: "a", count: 250) + "@example.com", "correct horse", [:], "email"),
        ("short@example.com", "five5", [:], "password"),
        ("long@example.com", String(repeating: "p", count: 1025), [:], "password"),
        ("attr@example.com", "correct horse", ["bad name": "x"], "attributes[bad name]"),
        ("value@example.com", "correct horse", ["bio": String(repeating: "v", count: 4097)], "attributes[bio]"),
        ("ctrl@example.com", "correct horse", ["bio": "a\u{1}b"], "attributes[bio]"),
    ] as [(String, String, [String: String], String)])
    func badSignUp(email: String, password: String, attributes: [String: String], field: String) async throws {
        try await withTestAuthd { authd async throws in
            let error = await expectRPCError(.invalidArgument) { try await authd.client.signUp(email, password, attributes: attributes) }
            #expect(error?.fieldViolations.first?.field == field, "\(error?.message ?? "")")
        }
    }

    @Test("too many attributes is refused")
    func tooManyAttributes() async throws {
        try await withTestAuthd { authd async throws in
            let attributes = Dictionary(uniqueKeysWithValues: (0..<65).map { ("a\($0)", "v") })
            let error = await expectRPCError(.invalidArgument) { try await authd.client.signUp("many@example.com", attributes: attributes) }
            #expect(error?.message.contains("at most 64 attributes") == true)
        }
    }

    @Test("a request with a field the message does not have is refused, naming it")
    func unknownField() async throws {
        try await withTestAuthd { authd async throws in
            // LoginRequest{email: "a@b.co"} + field 15 (varint 1).
            let payload: [UInt8] = [0x0A, 0x06] + Array("a@b.co".utf8) + [0x78, 0x01]
            let error = await expectRPCError(.invalidArgument) {
                try await authd.client.connection.callRaw(AuthService.Method.login.path, payload: payload)
            }
            #expect(error?.message.contains("unknown field number 15") == true)
        }
    }

    @Test("a wrong confirmation code shape is refused before any lookup")
    func codeShape() async throws {
        try await withTestAuthd { authd async throws in
            let error = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "x@example.com", code: "12ab", newPassword: "whatever1"))
            }
            #expect(error?.fieldViolations.first?.field == "code")
        }
    }
}
