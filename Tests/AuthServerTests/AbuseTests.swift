import AuthClient
import AuthCore
import AuthCrypto
import AuthdTesting
import Foundation
import GRDB
import Testing
import AuthServer

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
            // Every outcome counted in the message: a stray code says what went wrong.
            let counts = Dictionary(grouping: outcomes, by: { "\($0)" }).mapValues(\.count)
            #expect(outcomes.filter { $0 == .unauthenticated }.count == 20, "\(counts)")
            #expect(outcomes.filter { $0 == .resourceExhausted }.count == 280, "\(counts)")
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

@Suite("Abuse: ForgotPassword does the same work for every email")
struct ForgotPasswordWorkTests {
    @Test("an unknown email renders the same template and writes a code and a message of the same size, to rows nobody reads")
    func sameWork() async throws {
        try await withTestAuthd { authd in
            _ = try await authd.client.signUp("known@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "known@example.com"))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "nobody@example.com"))
            let known = try #require(try await authd.outboxMessages(recipient: "known@example.com").last?.message)
            #expect(try await authd.outboxMessages(recipient: "nobody@example.com").isEmpty)
            // A code row and a message row each, in tables of the same shape.
            func column(_ name: String, of table: String, where condition: String = "TRUE") async throws -> String {
                try #require(try await authd.texts("SELECT \(name) FROM \(table) WHERE \(condition)").first)
            }
            #expect(try await authd.texts("SELECT CAST(length(code_hash) AS TEXT) FROM decoy_one_time_codes") == ["32"])
            let knownOnly = "recipient = 'known@example.com'"
            #expect(try await column("recipient", of: "decoy_outbox") == "nobody@example.com")
            #expect(try await column("state", of: "decoy_outbox") == column("state", of: "outbox", where: knownOnly))
            #expect(try await column("headers", of: "decoy_outbox").utf8.count == column("headers", of: "outbox", where: knownOnly).utf8.count)
            #expect(try await column("subject", of: "decoy_outbox") == known.subject)
            // The same template: only the code differs.
            let digits = { (text: String) in String(text.map { $0.isNumber ? "0" : $0 }) }
            #expect(digits(try await column("text_body", of: "decoy_outbox")) == digits(known.textBody))
            #expect(try await column("html_body", of: "decoy_outbox").utf8.count == known.htmlBody.utf8.count)
        }
    }
}

@Suite("Abuse: nothing an outsider writes grows without bound")
struct GrowthTests {
    private static func count(_ authd: TestAuthd, _ table: String) async throws -> Int {
        try await authd.count(table)
    }

    @Test("outsider-sized keys are refused; throttles, sessions, codes and decoys are pruned after their use")
    func floodThenPrune() async throws {
        try await withTestAuthd { authd in
            let huge = String(repeating: "a", count: 64 * 1024)
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: huge + "@example.com"))
            }
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.forgotPassword(
                    AuthV1.ForgotPasswordRequest(email: "a@example.com"), options: CallOptions(metadata: [MetadataKey.clientAddress: huge]))
            }
            // A flood from 300 addresses, and sessions and codes that will end.
            for index in 0..<300 {
                _ = try await authd.client.auth.forgotPassword(
                    AuthV1.ForgotPasswordRequest(email: "flood\(index)@example.com"),
                    options: CallOptions(metadata: [MetadataKey.clientAddress: "10.1.\(index / 250).\(index % 250)"]))
            }
            let token = try await authd.client.signUp("user@example.com").session!.token
            _ = try await authd.client.auth.logout(AuthV1.LogoutRequest(token: token))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "user@example.com"))
            let throttlesAfterFlood = try await Self.count(authd, "throttles")
            #expect(throttlesAfterFlood >= 600)  // per address and per mailbox, plus the mailbox quota
            #expect(try await Self.count(authd, "sessions") == 1)
            #expect(try await Self.count(authd, "one_time_codes") == 1)
            // The decoys of the 300 unknown emails.
            #expect(try await Self.count(authd, "decoy_one_time_codes") == 300)
            #expect(try await Self.count(authd, "decoy_outbox") == 300)

            let pruner = Pruner(storage: try await authd.openStorage(), clock: authd.clock, retention: .defaults, mail: .defaults)
            #expect(try await pruner.prune().total == 0)  // nothing is past its retention yet
            // A day after the code expired (15 minutes after it was issued).
            authd.clock.advance(by: .seconds(25 * 3600))
            let pruned = try await pruner.prune()
            #expect(pruned.throttles == throttlesAfterFlood)
            #expect(pruned.sessions == 1 && pruned.codes == 1)
            #expect(try await Self.count(authd, "throttles") == 0)
            #expect(try await Self.count(authd, "sessions") == 0)
            #expect(try await Self.count(authd, "one_time_codes") == 0)
            #expect(try await Self.count(authd, "decoy_one_time_codes") == 0)
            #expect(try await Self.count(authd, "decoy_outbox") == 0)
        }
    }
}
