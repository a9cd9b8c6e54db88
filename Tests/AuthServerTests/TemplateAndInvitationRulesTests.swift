import AuthClient
import AuthCore
import AuthdTesting
import Testing

@Suite("Templates and invitations: what a first run meets")
struct TemplateAndInvitationRulesTests {
    @Test("a placeholder no variable can fill is refused, naming it and the valid ones")
    func unknownAttribute() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let typo = await expectRPCError(.invalidArgument) {
                try await admin.setTemplate(AuthV1.SetTemplateRequest(template: AuthV1.EmailTemplate(
                    kind: .verificationCode, subject: "Hi {{attributes.nam}}", textBody: "{{code}}", htmlBody: "{{code}}")))
            }
            #expect(typo?.fieldViolations.first?.field == "template.subject")
            #expect(typo?.message.contains("{{attributes.nam}}") == true)
            #expect(typo?.message.contains("{{attributes.name}}") == true, "\(typo?.message ?? "")")
            // A documented attribute is fine before any user holds it; so is one a user holds.
            _ = try await admin.setTemplate(AuthV1.SetTemplateRequest(template: AuthV1.EmailTemplate(
                kind: .verificationCode, subject: "Hi {{attributes.name}}", textBody: "{{code}}", htmlBody: "{{code}}")))
            _ = try await authd.client.signUp("team@example.com", attributes: ["team": "Blue"])
            _ = try await admin.setTemplate(AuthV1.SetTemplateRequest(template: AuthV1.EmailTemplate(
                kind: .verificationCode, subject: "Hi {{attributes.team}}", textBody: "{{code}}", htmlBody: "{{code}}")))
            // The preview of a given template checks the same way.
            await expectRPCError(.invalidArgument) {
                try await admin.previewTemplate(AuthV1.PreviewTemplateRequest(
                    kind: .verificationCode,
                    template: AuthV1.EmailTemplate(subject: "{{attributes.tema}}", textBody: "{{code}}", htmlBody: "{{code}}")))
            }
        }
    }

    @Test("no invitation goes out without app_base_url: create, resend and import are refused, nothing is stored")
    func invitationsNeedALink() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let create = await expectRPCError(.failedPrecondition) {
                try await admin.createUser(AuthV1.CreateUserRequest(email: "guest@example.com", sendInvitation: true))
            }
            #expect(create?.fieldViolations.first?.field == "app_base_url")
            #expect(create?.message.contains("app_base_url") == true)
            await expectRPCError(.notFound) { try await admin.getUser(AuthV1.GetUserRequest(email: "guest@example.com")) }

            let plain = try await admin.createUser(AuthV1.CreateUserRequest(email: "later@example.com"))
            await expectRPCError(.failedPrecondition) {
                try await admin.resendInvitation(AuthV1.UserIdRequest(id: plain.user!.id))
            }
            await expectRPCError(.failedPrecondition) {
                try await admin.importUsers(AuthV1.ImportUsersRequest(
                    header: "email", rows: Array("new@example.com\n".utf8), options: AuthV1.ImportOptions(sendInvitations: true)))
            }
            await expectRPCError(.notFound) { try await admin.getUser(AuthV1.GetUserRequest(email: "new@example.com")) }
            #expect(try await authd.outboxMessages(recipient: nil).isEmpty)

            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(appBaseURL: AuthV1.StringValue(value: "http://localhost:3000")))
            _ = try await admin.resendInvitation(AuthV1.UserIdRequest(id: plain.user!.id))
            let mail = try #require(try await lastMessage(authd, to: "later@example.com"))
            #expect(mail.text.contains("http://localhost:3000/accept-invite?code=authd_iv_"))
        }
    }

    @Test("the app's name from the settings is in the subject and body of every email")
    func appName() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.adminClient.admin.updateSettings(AuthV1.UpdateSettingsRequest(appName: AuthV1.StringValue(value: "Cars")))
            _ = try await authd.client.signUp("ada@example.com")
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "ada@example.com"))
            let mail = try #require(try await lastMessage(authd, to: "ada@example.com"))
            #expect(mail.subject == "Your Cars verification code")
            #expect(mail.text.contains("Your Cars verification code is "))
            #expect(mail.text.contains("It expires in 15 minutes"))
            #expect(mail.html.hasPrefix("<!doctype html>"))
            await expectRPCError(.invalidArgument) {
                try await authd.adminClient.admin.updateSettings(AuthV1.UpdateSettingsRequest(appName: AuthV1.StringValue(value: "Cars\r\nBcc: x@y.z")))
            }
        }
    }

    @Test("durations read as a person says them")
    func durationWords() {
        #expect(DurationWords.describe(.seconds(7 * 24 * 3600)) == "7 days")
        #expect(DurationWords.describe(.seconds(15 * 60)) == "15 minutes")
        #expect(DurationWords.describe(.seconds(3600)) == "1 hour")
        #expect(DurationWords.describe(.seconds(90 * 60)) == "1 hour 30 minutes")
        #expect(DurationWords.describe(.seconds(24 * 3600 + 60)) == "1 day 1 minute")
        #expect(DurationWords.describe(.seconds(30)) == "less than a minute")
    }
}
