import AuthClient
import AuthCrypto
import AuthdTesting
import Foundation
import Testing

/// Issue 10's throttle races, address spellings, mail floods and input, over the wire.
@Suite("Abuse: throttles, addresses, floods of mail and odd input")
struct AbuseTests {
    private static func from(_ address: String) -> CallOptions {
        CallOptions(metadata: [MetadataKey.clientAddress: address])
    }

    /// Clients over several connections, so that hundreds of calls are in flight at once.
    private static func clients(_ authd: TestAuthd, _ count: Int) -> [AuthdClient] {
        (0..<count).map { _ in AuthdClient(host: "127.0.0.1", port: authd.server.localPort!) }
    }

    @Test("300 parallel wrong logins on 300 accounts from one address: exactly the address's 20 are evaluated")
    func parallelLoginsPerAddress() async throws {
        try await withTestAuthd { authd async throws in
            let clients = Self.clients(authd, 3)
            let outcomes = await parallelOutcomes(300) { index in
                _ = try await clients[index % 3].auth.login(
                    AuthV1.LoginRequest(email: "victim\(index)@example.com", password: "wrong horse"), options: Self.from("198.51.100.9"))
            }
            #expect(outcomes.filter { $0 == .unauthenticated }.count == 20)
            #expect(outcomes.filter { $0 == .resourceExhausted }.count == 280)
            // Another address is not held back.
            await expectRPCError(.unauthenticated) {
                try await authd.client.auth.login(
                    AuthV1.LoginRequest(email: "victim0@example.com", password: "wrong horse"), options: Self.from("198.51.100.10"))
            }
            for client in clients { await client.close() }
        }
    }

    @Test("300 parallel wrong ConfirmPassword from one address: exactly 20 are evaluated")
    func parallelConfirmationsPerAddress() async throws {
        try await withTestAuthd { authd async throws in
            let clients = Self.clients(authd, 3)
            let outcomes = await parallelOutcomes(300) { index in
                _ = try await clients[index % 3].auth.confirmPassword(
                    AuthV1.ConfirmPasswordRequest(email: "target\(index % 7)@example.com", code: "12345678", newPassword: "guessed pw"),
                    options: Self.from("198.51.100.20"))
            }
            #expect(outcomes.filter { $0 == .invalidArgument }.count == 20)
            #expect(outcomes.filter { $0 == .resourceExhausted }.count == 280)
            for client in clients { await client.close() }
        }
    }

    @Test("one address spelled many ways is one throttle key; IPv6 counts by /64; garbage is refused")
    func addressSpellings() async throws {
        try await withTestAuthd { authd async throws in
            // 20 failures spread over spellings of one IPv4 address exhaust its throttle.
            let spellings = ["10.0.0.1", "010.000.000.001", " 10.0.0.1 ", "::ffff:10.0.0.1", "::FFFF:10.0.0.1"]
            for index in 0..<20 {
                await expectRPCError(.unauthenticated) {
                    try await authd.client.auth.login(
                        AuthV1.LoginRequest(email: "a\(index)@example.com", password: "wrong horse"), options: Self.from(spellings[index % spellings.count]))
                }
            }
            for spelling in spellings {
                await expectRPCError(.resourceExhausted) {
                    try await authd.client.auth.login(
                        AuthV1.LoginRequest(email: "b@example.com", password: "wrong horse"), options: Self.from(spelling))
                }
            }
            // Two hosts of one /64 are one key; another /64 is not.
            for index in 0..<20 {
                await expectRPCError(.unauthenticated) {
                    try await authd.client.auth.login(
                        AuthV1.LoginRequest(email: "c\(index)@example.com", password: "wrong horse"),
                        options: Self.from(index.isMultiple(of: 2) ? "2001:db8:1:2::1" : "2001:0db8:0001:0002:ffff::9"))
                }
            }
            await expectRPCError(.resourceExhausted) {
                try await authd.client.auth.login(AuthV1.LoginRequest(email: "d@example.com", password: "wrong horse"), options: Self.from("2001:db8:1:2:abcd::7"))
            }
            await expectRPCError(.unauthenticated) {
                try await authd.client.auth.login(AuthV1.LoginRequest(email: "d@example.com", password: "wrong horse"), options: Self.from("2001:db8:1:3::7"))
            }
            for garbage in ["not an address", "10.0.0.256", "1.2.3", String(repeating: "a", count: 65_536), "10.0.0.1, 10.0.0.2"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "e@example.com"), options: Self.from(garbage))
                }
                #expect(error?.fieldViolations.first?.field == "x-client-address")
            }
        }
    }

    @Test("sign-ups are throttled per address")
    func signUpsPerAddress() async throws {
        try await withTestAuthd { authd async throws in
            for index in 0..<20 {
                _ = try await authd.client.auth.signUp(
                    AuthV1.SignUpRequest(email: "probe\(index)@example.com", password: "correct horse"), options: Self.from("192.0.2.50"))
            }
            let refused = await expectRPCError(.resourceExhausted) {
                try await authd.client.auth.signUp(
                    AuthV1.SignUpRequest(email: "probe20@example.com", password: "correct horse"), options: Self.from("192.0.2.50"))
            }
            #expect(refused?.retryAfterMilliseconds != nil)
            _ = try await authd.client.auth.signUp(
                AuthV1.SignUpRequest(email: "probe20@example.com", password: "correct horse"), options: Self.from("192.0.2.51"))
        }
    }

    @Test("plus-addressed variants of one mailbox share the reset quota and the mailbox's mail quota")
    func plusAddressing() async throws {
        try await withTestAuthd { authd async throws in
            for tag in 1...3 {
                _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "ada+\(tag)@example.com"))
            }
            await expectRPCError(.resourceExhausted) {
                try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "ada+4@example.com"))
            }
            // An operator resending invitations cannot flood one inbox either.
            let admin = authd.adminClient.admin
            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(appBaseURL: AuthV1.StringValue(value: "https://cars.example")))
            let user = try await admin.createUser(AuthV1.CreateUserRequest(email: "bob+x@example.com", sendInvitation: true)).user!
            for _ in 1..<10 {
                _ = try await admin.resendInvitation(AuthV1.UserIdRequest(id: user.id))
            }
            await expectRPCError(.resourceExhausted) { try await admin.resendInvitation(AuthV1.UserIdRequest(id: user.id)) }
            #expect(try await authd.outboxMessages(recipient: "bob+x@example.com").count == 10)
            authd.clock.advance(by: .seconds(3601))
            _ = try await admin.resendInvitation(AuthV1.UserIdRequest(id: user.id))
        }
    }

    @Test("control and bidi-override characters in attribute values are refused, naming the field")
    func attributeCharacters() async throws {
        try await withTestAuthd { authd async throws in
            for value in ["bell\u{7}", "del\u{7F}", "next line\u{85}", "\u{202E}txt.exe", "iso\u{2066}late"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await authd.client.signUp("chars@example.com", attributes: ["name": value])
                }
                #expect(error?.fieldViolations.first?.field == "attributes[name]")
            }
            // Tab and line breaks stay allowed where values allow them.
            _ = try await authd.client.signUp("chars@example.com", attributes: ["bio": "line 1\r\nline 2\tend"])
        }
    }

    @Test("an email a person reads as another is refused, not folded onto an existing account")
    func emailLookalikes() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.client.signUp("ken@example.com")
            for lookalike in ["\u{212A}en@example.com", "k\u{0435}n@example.com", "ke\u{0301}n@example.com", "ken@ex\u{00E4}mple.com"] {
                let signUp = await expectRPCError(.invalidArgument) { try await authd.client.signUp(lookalike) }
                #expect(signUp?.message.contains("ASCII") == true)
                await expectRPCError(.invalidArgument) { try await authd.client.login(lookalike, "correct horse") }
                await expectRPCError(.invalidArgument) {
                    try await authd.adminClient.admin.createUser(AuthV1.CreateUserRequest(email: lookalike))
                }
            }
            // Upper-case ASCII is the same account, as before.
            _ = try await authd.client.login("KEN@Example.COM", "correct horse")
        }
    }
}

@Suite("Abuse: the password-hashing queue")
struct HashQueueTests {
    @Test("a flood from one address is refused beyond its share at once; another address still logs in")
    func floodFromOneAddress() async throws {
        try await withTestAuthd(
            scrypt: ScryptParameters(logN: 12, r: 8, p: 1),
            hashQueue: HashQueueLimits(maximumWaiting: 16, maximumPerSource: 2)) { authd in
            _ = try await authd.client.signUp("legit@example.com")
            let flooders = (0..<3).map { _ in AuthdClient(host: "127.0.0.1", port: authd.server.localPort!) }
            async let flood = parallelOutcomes(200) { index in
                _ = try await flooders[index % 3].auth.signUp(
                    AuthV1.SignUpRequest(email: "flood\(index)@example.com", password: "correct horse"),
                    options: CallOptions(metadata: [MetadataKey.clientAddress: "198.51.100.66"]))
            }
            let legit = try await authd.client.auth.login(
                AuthV1.LoginRequest(email: "legit@example.com", password: "correct horse"),
                options: CallOptions(metadata: [MetadataKey.clientAddress: "192.0.2.1"]))
            #expect(legit.session != nil)
            let outcomes = await flood
            // The sign-up quota (20 an hour) and the queue's share (2) both refuse, at once.
            #expect(outcomes.filter { $0 == .ok }.count <= 20)
            #expect(outcomes.filter { $0 == .resourceExhausted }.count >= 180)
            #expect(Set(outcomes).isSubset(of: [.ok, .resourceExhausted]))
            for client in flooders { await client.close() }
        }
    }
}
