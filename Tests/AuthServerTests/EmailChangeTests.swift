import AuthClient
import AuthCore
import AuthdTesting
import Testing
import Foundation

@Suite("Email change: a stolen session cannot move the account")
struct EmailChangeTests {
    @Test("a new email needs the current password; a wrong one is PERMISSION_DENIED and counts as a failed login")
    func needsThePassword() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            let missing = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(token: token, email: AuthV1.StringValue(value: "thief@example.com")))
            }
            #expect(missing?.fieldViolations.first?.field == "current_password")
            for _ in 0..<5 {
                let wrong = await expectRPCError(.permissionDenied) {
                    try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                        token: token, email: AuthV1.StringValue(value: "thief@example.com"), currentPassword: "guess guess"))
                }
                #expect(wrong?.fieldViolations.first?.field == "current_password")
            }
            // Guessing the password through UpdateProfile trips the account's login throttle.
            await expectRPCError(.resourceExhausted) {
                try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                    token: token, email: AuthV1.StringValue(value: "thief@example.com"), currentPassword: "correct horse"))
            }
            #expect(try await authd.outboxMessages(recipient: "thief@example.com").isEmpty)
            #expect(try await authd.client.me(token).email == "owner@example.com")
        }
    }

    @Test("the change waits for the code sent to the new address; the old address is told at once")
    func confirmationAndNotice() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.adminClient.admin.updateSettings(AuthV1.UpdateSettingsRequest(appName: AuthV1.StringValue(value: "Cars")))
            let token = try await authd.client.signUp("owner@example.com").session!.token
            let started = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                token: token, email: AuthV1.StringValue(value: "owner.new@example.com"), currentPassword: "correct horse"))
            #expect(started.user?.email == "owner@example.com")
            #expect(started.pendingEmail == "owner.new@example.com")
            #expect(started.codeValidForSeconds == 15 * 60)

            let notice = try #require(try await lastMessage(authd, to: "owner@example.com"))
            #expect(notice.kind == .emailChangeNotice)
            #expect(notice.subject == "Your Cars email address is changing")
            #expect(notice.text.contains("from owner@example.com to owner.new@example.com"))
            let confirmation = try #require(try await lastMessage(authd, to: "owner.new@example.com"))
            #expect(confirmation.kind == .emailChangeCode)
            let code = try #require(try await authd.lastCode(for: "owner.new@example.com"))

            // Not yet: the account is still at the old address.
            _ = try await authd.client.login("owner@example.com", "correct horse")
            await expectRPCError(.unauthenticated) { try await authd.client.login("owner.new@example.com", "correct horse") }

            let wrong = String(format: "%08d", (Int(code)! + 1) % 100_000_000)
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: wrong))
            }
            let moved = try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code))
            #expect(moved.user?.email == "owner.new@example.com")
            _ = try await authd.client.login("owner.new@example.com", "correct horse")
            // Single use.
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code))
            }
        }
    }

    @Test("five wrong codes void the change; a code of another account's session does not work")
    func wrongCodes() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            let other = try await authd.client.signUp("other@example.com").session!.token
            _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                token: token, email: AuthV1.StringValue(value: "owner.new@example.com"), currentPassword: "correct horse"))
            let code = try #require(try await authd.lastCode(for: "owner.new@example.com"))
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: other, code: code))
            }
            for offset in 1...5 {
                let wrong = String(format: "%08d", (Int(code)! + offset) % 100_000_000)
                await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: wrong))
                }
            }
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code))
            }
            #expect(try await authd.client.me(token).email == "owner@example.com")
        }
    }

    @Test("an address taken between the request and the confirmation is ALREADY_EXISTS and changes nothing")
    func takenMeanwhile() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                token: token, email: AuthV1.StringValue(value: "wanted@example.com"), currentPassword: "correct horse"))
            let code = try #require(try await authd.lastCode(for: "wanted@example.com"))
            _ = try await authd.client.signUp("wanted@example.com")
            await expectRPCError(.alreadyExists) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code))
            }
            #expect(try await authd.client.me(token).email == "owner@example.com")
        }
    }

    @Test("the admin path stays direct")
    func adminChangesDirectly() async throws {
        try await withTestAuthd { authd async throws in
            let user = try await authd.client.signUp("owner@example.com").user!
            let updated = try await authd.adminClient.admin.updateUser(AuthV1.UpdateUserRequest(id: user.id, email: AuthV1.StringValue(value: "moved@example.com")))
            #expect(updated.user?.email == "moved@example.com")
        }
    }

    @Test("an operator's change tells the old address, cancels a pending self-service change and voids the old address's codes")
    func adminChangeIsNotSilent() async throws {
        try await withTestAuthd { authd async throws in
            let signedUp = try await authd.client.signUp("owner@example.com")
            let (id, token) = (signedUp.user!.id, signedUp.session!.token)
            // A self-service change waits for its code, and a reset code sits in the old mailbox.
            _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                token: token, email: AuthV1.StringValue(value: "pending@example.com"), currentPassword: "correct horse"))
            let pendingCode = try #require(try await authd.lastCode(for: "pending@example.com"))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "owner@example.com"))
            let resetCode = try #require(try await authd.lastCode(for: "owner@example.com"))

            _ = try await authd.adminClient.admin.updateUser(AuthV1.UpdateUserRequest(id: id, email: AuthV1.StringValue(value: "ops-set@example.com")))

            let notice = try #require(try await authd.outboxMessages(recipient: "owner@example.com").last?.message)
            #expect(notice.kind == .emailChangeNotice)
            #expect(notice.textBody.contains("from owner@example.com to ops-set@example.com"))
            // The pending change is cancelled: its code no longer moves the account.
            await expectRPCError(.invalidArgument) {
                try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: pendingCode))
            }
            #expect(try await authd.client.me(token).email == "ops-set@example.com")
            // The reset code that went to the old address works for neither address.
            for email in ["owner@example.com", "ops-set@example.com"] {
                await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: email, code: resetCode, newPassword: "taken over"))
                }
            }
            _ = try await authd.client.login("ops-set@example.com", "correct horse")
            // An update that keeps the address sends nothing.
            let before = try await authd.outboxMessages(recipient: "ops-set@example.com").count
            _ = try await authd.adminClient.admin.updateUser(AuthV1.UpdateUserRequest(id: id, email: AuthV1.StringValue(value: "OPS-SET@example.com")))
            #expect(try await authd.outboxMessages(recipient: "ops-set@example.com").count == before)
            #expect(try await authd.outboxMessages(recipient: "owner@example.com").count == 3)  // the two notices and the reset code
        }
    }

    @Test("a confirmed self-service change voids the reset codes that went to the old address")
    func confirmedChangeVoidsOldCodes() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "owner@example.com"))
            let resetCode = try #require(try await authd.lastCode(for: "owner@example.com"))
            _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                token: token, email: AuthV1.StringValue(value: "owner.new@example.com"), currentPassword: "correct horse"))
            let code = try #require(try await authd.lastCode(for: "owner.new@example.com"))
            _ = try await authd.client.auth.confirmEmailChange(AuthV1.ConfirmEmailChangeRequest(token: token, code: code))
            for email in ["owner@example.com", "owner.new@example.com"] {
                await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: email, code: resetCode, newPassword: "taken over"))
                }
            }
            _ = try await authd.client.login("owner.new@example.com", "correct horse")
        }
    }

    @Test("a refused UpdateProfile writes nothing: the mail quota is spent before the attributes are written")
    func refusedProfileUpdateWritesNothing() async throws {
        let identity = IdentityConfiguration(throttles: ThrottlePolicy(mailsPerMailboxPerHour: 2))
        try await withTestAuthd(identity: identity) { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            for _ in 0..<2 {
                _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                    token: token, email: AuthV1.StringValue(value: "full@example.com"), currentPassword: "correct horse"))
            }
            await expectRPCError(.resourceExhausted) {
                try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(
                    token: token, setAttributes: ["name": "Mallory"], email: AuthV1.StringValue(value: "full@example.com"),
                    currentPassword: "correct horse"))
            }
            #expect(try await authd.client.me(token).attributes["name"] == nil)
        }
    }

    @Test("parallel UpdateProfiles cannot pass the attribute limit together; each refused one writes nothing")
    func attributeLimitUnderParallelUpdates() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("owner@example.com").session!.token
            let client = authd.client
            // Five updates of 20 new attributes each; the limit is 64, so at most three fit.
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for batch in 0..<5 {
                    group.addTask {
                        let attributes = Dictionary(uniqueKeysWithValues: (0..<20).map { ("b\(batch)_\($0)", "v") })
                        do {
                            _ = try await client.auth.updateProfile(AuthV1.UpdateProfileRequest(token: token, setAttributes: attributes))
                            return true
                        } catch let error as RPCError {
                            #expect(error.code == .invalidArgument && error.fieldViolations.first?.field == "attributes", "\(error)")
                            return false
                        } catch {
                            Issue.record("\(error)")
                            return false
                        }
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            let accepted = outcomes.filter { $0 }.count
            let attributes = try await authd.client.me(token).attributes
            #expect(accepted == 3)
            #expect(attributes.count == 20 * accepted)
            // Whole batches only: a refused one left none of its attributes behind.
            let batches = Set(attributes.keys.map { $0.split(separator: "_")[0] })
            #expect(batches.count == accepted)
        }
    }
}
