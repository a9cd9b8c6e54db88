import AuthClient
import AuthCore
import AuthdTesting
import Foundation
import Testing

/// The newest outbox row to `email`, as authd wrote it.
func lastMessage(_ authd: TestAuthd, to email: String) async throws -> (subject: String, text: String, html: String, kind: TemplateKind)? {
    let messages = try await authd.outboxMessages(recipient: email)
    return messages.last.map { ($0.message.subject, $0.message.textBody, $0.message.htmlBody, $0.message.kind) }
}

/// The invitation code in the newest email to `email`.
func latestInvitationCode(_ authd: TestAuthd, to email: String) async throws -> String {
    let mail = try #require(try await lastMessage(authd, to: email))
    return try #require(invitationCode(in: mail.text))
}

func invitationCode(in text: String) -> String? {
    text.split(whereSeparator: { $0.isWhitespace || $0 == "=" || $0 == "\"" || $0 == "<" || $0 == ">" })
        .first { $0.hasPrefix("authd_iv_") }
        .map { String($0) }
}

@Suite("Invitations")
struct InvitationTests {
    @Test("create with an invitation → outbox row rendered from the template → AcceptInvite signs in")
    func inviteAndAccept() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(
                appBaseURL: AuthV1.StringValue(value: "https://cars.example/"), mailFrom: AuthV1.StringValue(value: "Cars <no-reply@cars.example>"),
                appName: AuthV1.StringValue(value: "Cars")))
            let created = try await admin.createUser(AuthV1.CreateUserRequest(email: "guest@example.com", attributes: ["name": "Gus"], sendInvitation: true))
            #expect(created.user?.hasPassword == false)

            let mail = try #require(try await lastMessage(authd, to: "guest@example.com"))
            #expect(mail.kind == .invitation)
            #expect(mail.subject == "You are invited to Cars")
            #expect(mail.text.contains("Hello Gus,"))
            #expect(mail.text.contains("you are invited to Cars"))
            #expect(mail.text.contains("https://cars.example/accept-invite?code=authd_iv_"))
            #expect(mail.text.contains("expires in 7 days"))
            // A complete HTML document with its style inline, naming the app.
            #expect(mail.html.hasPrefix("<!doctype html>\n<html lang=\"en\">"))
            #expect(mail.html.contains("<body style=\""))
            #expect(mail.html.contains("<h1 style=\"margin:0 0 16px;font-size:20px\">Cars</h1>"))
            #expect(mail.html.hasSuffix("</body>\n</html>"))
            #expect(mail.html.contains("expires in 7 days"))
            let code = try #require(invitationCode(in: mail.text))
            #expect(mail.html.contains("href=\"https://cars.example/accept-invite?code=\(code)\""))
            let sender = try await authd.outboxMessages(recipient: "guest@example.com").last?.message.sender
            #expect(sender == "Cars <no-reply@cars.example>")

            let accepted = try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: code, password: "my own choice"))
            #expect(accepted.user?.email == "guest@example.com")
            #expect(try await authd.client.me(accepted.session!.token).hasPassword)
            _ = try await authd.client.login("guest@example.com", "my own choice")

            // Single use.
            let reused = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: code, password: "second try"))
            }
            #expect(reused?.fieldViolations.first?.field == "code")
        }
    }

    @Test("an expired invitation is refused; resending voids the previous code")
    func expiryAndResend() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(appBaseURL: AuthV1.StringValue(value: "https://cars.example")))
            let created = try await admin.createUser(AuthV1.CreateUserRequest(email: "late@example.com", sendInvitation: true))
            let first = try await latestInvitationCode(authd, to: "late@example.com")
            authd.clock.advance(by: .seconds(7 * 24 * 3600 + 1))
            await expectRPCError(.invalidArgument) { try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: first, password: "too late!")) }

            let resent = try await admin.resendInvitation(AuthV1.UserIdRequest(id: created.user!.id))
            #expect(resent.expiresAtMs == authd.clock.now.milliseconds + 7 * 24 * 3600 * 1000)
            let second = try await latestInvitationCode(authd, to: "late@example.com")
            _ = try await admin.resendInvitation(AuthV1.UserIdRequest(id: created.user!.id))
            let third = try await latestInvitationCode(authd, to: "late@example.com")
            #expect(Set([first, second, third]).count == 3)
            await expectRPCError(.invalidArgument) { try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: second, password: "voided one")) }
            _ = try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: third, password: "the live one"))
            await expectRPCError(.notFound) { try await admin.resendInvitation(AuthV1.UserIdRequest(id: UUID().uuidString)) }
        }
    }

    @Test("garbage codes and short passwords are refused, naming the field")
    func badInput() async throws {
        try await withTestAuthd { authd async throws in
            let garbage = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: "12345678", password: "long enough"))
            }
            #expect(garbage?.fieldViolations.first?.field == "code")
            let short = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.acceptInvite(AuthV1.AcceptInviteRequest(code: "authd_iv_x", password: "short"))
            }
            #expect(short?.fieldViolations.first?.field == "password")
        }
    }
}

@Suite("Email templates")
struct TemplateTests {
    @Test("get the default, set one, render it into the outbox, reset it")
    func setRenderReset() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let builtIn = try await admin.getTemplate(AuthV1.TemplateRequest(kind: .verificationCode)).template
            #expect(builtIn?.isDefault == true)
            #expect(builtIn?.textBody.contains("{{code}}") == true)

            let custom = AuthV1.EmailTemplate(
                kind: .verificationCode,
                subject: "Code for {{attributes.name}}",
                textBody: "Hi {{attributes.name}}, your code: {{code}} ({{expires_in_minutes}} min)",
                htmlBody: "<p>Hi {{attributes.name}}, code <b>{{code}}</b></p>"
            )
            let stored = try await admin.setTemplate(AuthV1.SetTemplateRequest(template: custom)).template
            #expect(stored?.isDefault == false)
            #expect(try await admin.getTemplate(AuthV1.TemplateRequest(kind: .verificationCode)).template?.subject == "Code for {{attributes.name}}")

            _ = try await authd.client.signUp("tmpl@example.com", attributes: ["name": "<Tom & \"Jerry\">"])
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "tmpl@example.com"))
            let mail = try #require(try await lastMessage(authd, to: "tmpl@example.com"))
            // Text and subject as typed; HTML escaped.
            #expect(mail.subject == "Code for <Tom & \"Jerry\">")
            #expect(mail.text.hasPrefix("Hi <Tom & \"Jerry\">, your code: "))
            #expect(mail.text.hasSuffix("(15 min)"))
            #expect(mail.html.hasPrefix("<p>Hi &lt;Tom &amp; &quot;Jerry&quot;&gt;, code <b>"))
            let code = try #require(try await authd.lastCode(for: "tmpl@example.com"))
            _ = try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(email: "tmpl@example.com", code: code, newPassword: "via template"))

            let reset = try await admin.resetTemplate(AuthV1.TemplateRequest(kind: .verificationCode)).template
            #expect(reset?.isDefault == true)
            #expect(try await admin.getTemplate(AuthV1.TemplateRequest(kind: .verificationCode)).template == reset)
        }
    }

    @Test("a missing attribute renders as nothing; a subject cannot carry a line break")
    func missingValues() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await authd.client.signUp("plain@example.com", attributes: ["team": "a\nBcc: evil@example.com"])
            _ = try await authd.client.signUp("nick@example.com", attributes: ["nickname": "Nick"])
            // Both attributes are known (some user holds each); plain@ lacks nickname.
            _ = try await admin.setTemplate(AuthV1.SetTemplateRequest(template: AuthV1.EmailTemplate(
                kind: .verificationCode, subject: "Code {{attributes.team}}", textBody: "[{{attributes.nickname}}] {{code}}", htmlBody: "{{code}}"
            )))
            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "plain@example.com"))
            let mail = try #require(try await lastMessage(authd, to: "plain@example.com"))
            #expect(mail.text.hasPrefix("[] "))
            #expect(!mail.subject.contains("\n"))
            #expect(mail.subject == "Code a Bcc: evil@example.com")
        }
    }

    @Test("templates that would send a broken email are refused", arguments: [
        ("{{code}}", "Your code", "no placeholder for the code here", "{{code}}", "template.text_body"),
        ("{{code}}", "{{password}}", "{{code}}", "{{code}}", "template.subject"),
        ("{{code}}", "Hi", "{{code}} {{#broken}}", "{{code}}", "template.text_body"),
        ("{{code}}", "Hi", "{{code}}", "{{unknown_thing}}", "template.html_body"),
    ])
    func refused(_ ignored: String, subject: String, text: String, html: String, field: String) async throws {
        try await withTestAuthd { authd async throws in
            let error = await expectRPCError(.invalidArgument) {
                try await authd.adminClient.admin.setTemplate(AuthV1.SetTemplateRequest(template: AuthV1.EmailTemplate(
                    kind: .verificationCode, subject: subject, textBody: text, htmlBody: html
                )))
            }
            #expect(error?.fieldViolations.first?.field == field, "\(error?.message ?? "")")
            // Still the built-in one.
            #expect(try await authd.adminClient.admin.getTemplate(AuthV1.TemplateRequest(kind: .verificationCode)).template?.isDefault == true)
        }
    }

    @Test("preview renders the stored or a given template with sample values, escaping HTML")
    func preview() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let builtIn = try await admin.previewTemplate(AuthV1.PreviewTemplateRequest(kind: .invitation, values: ["attributes.name": "<b>Zoe</b>"]))
            #expect(builtIn.subject == "You are invited to authd")
            // The preview uses the real validity of each kind, as the email does.
            #expect(builtIn.textBody.contains("expires in 7 days"))
            let code = try await admin.previewTemplate(AuthV1.PreviewTemplateRequest(kind: .verificationCode))
            #expect(code.textBody.contains("expires in 15 minutes"))
            #expect(code.subject == "Your authd verification code")
            #expect(builtIn.textBody.contains("Hello <b>Zoe</b>,"))
            #expect(builtIn.htmlBody.contains("Hello &lt;b&gt;Zoe&lt;/b&gt;,"))
            let given = try await admin.previewTemplate(AuthV1.PreviewTemplateRequest(
                kind: .invitation,
                template: AuthV1.EmailTemplate(subject: "Join {{email}}", textBody: "{{link}}", htmlBody: "<a href=\"{{link}}\">join</a>"),
                values: ["email": "x@example.com", "link": "https://l.example/?a=1&b=2"]
            ))
            #expect(given.subject == "Join x@example.com")
            #expect(given.textBody == "https://l.example/?a=1&b=2")
            #expect(given.htmlBody == "<a href=\"https://l.example/?a=1&amp;b=2\">join</a>")
            await expectRPCError(.invalidArgument) { try await admin.getTemplate(AuthV1.TemplateRequest()) }
        }
    }
}
