import Testing
@testable import AuthCore

@Suite("EmailTemplates: validate and render")
struct EmailTemplateTests {
    func template(_ kind: TemplateKind = .verificationCode, subject: String = "Code", text: String = "{{code}}", html: String = "<p>{{code}}</p>") -> EmailTemplate {
        EmailTemplate(kind: kind, subject: subject, textBody: text, htmlBody: html)
    }

    @Test(arguments: TemplateKind.allCases)
    func theBuiltInTemplatesAreValid(kind: TemplateKind) throws {
        try EmailTemplates.validate(EmailTemplates.builtIn(kind), knownAttributes: EmailTemplates.documentedAttributes)
        #expect(EmailTemplates.builtIn(kind).isDefault)
    }

    @Test func brokenTemplatesAreRefusedOnTheFieldAtFault() {
        let known = EmailTemplates.documentedAttributes
        let syntax = #expect(throws: AuthError.self) { try EmailTemplates.validate(template(html: "<p>{{#code}}</p>"), knownAttributes: known) }
        #expect(syntax?.field == "template.html_body")
        let typo = #expect(throws: AuthError.self) { try EmailTemplates.validate(template(subject: "{{cdoe}}"), knownAttributes: known) }
        #expect(typo?.field == "template.subject")
        #expect(typo?.message.contains("{{cdoe}}") == true)
        // A verification email has no link.
        #expect(throws: AuthError.self) { try EmailTemplates.validate(template(text: "{{code}} {{link}}"), knownAttributes: known) }
        let noCode = #expect(throws: AuthError.self) { try EmailTemplates.validate(template(text: "hello"), knownAttributes: known) }
        #expect(noCode?.field == "template.text_body")
        let attribute = #expect(throws: AuthError.self) {
            try EmailTemplates.validate(template(text: "{{code}} {{attributes.nam}}"), knownAttributes: known)
        }
        #expect(attribute?.message.contains("attributes.nam") == true)
    }

    @Test func anInvitationNeedsTheLinkOrTheCode() throws {
        let known = EmailTemplates.documentedAttributes
        try EmailTemplates.validate(template(.invitation, text: "{{link}}", html: ""), knownAttributes: known)
        try EmailTemplates.validate(template(.invitation, text: "{{code}}", html: ""), knownAttributes: known)
        #expect(throws: AuthError.self) { try EmailTemplates.validate(template(.invitation, text: "{{email}}"), knownAttributes: known) }
    }

    @Test func htmlIsEscapedTextIsNotAndTheSubjectIsOneLine() throws {
        let rendered = try EmailTemplates.render(
            template(
                subject: "Hi {{attributes.name}}", text: "{{attributes.name}}: {{code}} ({{expires_in}})",
                html: "<p>{{attributes.name}}</p>"),
            values: TemplateValues(
                email: "ada@example.com", attributes: ["name": "<Ada>\r\nBcc: eve@example.com"], code: "12345678",
                expiresIn: .seconds(15 * 60)))
        #expect(rendered.subject == "Hi <Ada> Bcc: eve@example.com")
        #expect(!rendered.subject.contains("\n") && !rendered.subject.contains("\r"))
        #expect(rendered.textBody == "<Ada>\r\nBcc: eve@example.com: 12345678 (15 minutes)")
        #expect(rendered.htmlBody.contains("&lt;Ada&gt;"))
        #expect(!rendered.htmlBody.contains("<Ada>"))
    }

    @Test func anAttributeTheUserLacksRendersAsNothing() throws {
        let rendered = try EmailTemplates.render(
            template(text: "Hello{{#attributes.name}} {{attributes.name}}{{/attributes.name}}, {{code}}"),
            values: TemplateValues(email: "ada@example.com", code: "1"))
        #expect(rendered.textBody == "Hello, 1")
    }

    @Test func validitiesReadAsAPersonWouldSayThem() {
        #expect(DurationWords.describe(.seconds(15 * 60)) == "15 minutes")
        #expect(DurationWords.describe(.seconds(7 * 86400)) == "7 days")
        #expect(DurationWords.describe(.seconds(5400)) == "1 hour 30 minutes")
        #expect(DurationWords.describe(.seconds(30)) == "less than a minute")
    }
}
