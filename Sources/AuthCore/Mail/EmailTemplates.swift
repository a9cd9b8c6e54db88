import Mustache

/// The emails authd sends, as operator-editable Mustache templates.
public enum TemplateKind: String, Hashable, Sendable, CaseIterable {
    case invitation
    case verificationCode = "verification_code"
    /// The code that confirms a new address, sent to that address.
    case emailChangeCode = "email_change_code"
    /// The word to the old address that the account's address is changing.
    case emailChangeNotice = "email_change_notice"

    /// Placeholders a template of this kind may use (besides `attributes.NAME`).
    var placeholders: Set<String> {
        let common: Set<String> = ["email", "app_name", "app_base_url"]
        return switch self {
        case .invitation: common.union(["expires_in", "expires_in_minutes", "code", "link"])
        case .verificationCode: common.union(["expires_in", "expires_in_minutes", "code"])
        case .emailChangeCode: common.union(["expires_in", "expires_in_minutes", "code"])
        case .emailChangeNotice: common.union(["new_email"])
        }
    }

    /// What the text body must use for the email to do its job: one of these.
    var requiredPlaceholders: [String] {
        switch self {
        case .invitation: ["link", "code"]
        case .verificationCode, .emailChangeCode: ["code"]
        case .emailChangeNotice: ["new_email"]
        }
    }
}

/// Subject, text body and HTML body, with `{{placeholders}}`.
public struct EmailTemplate: Hashable, Sendable {
    public var kind: TemplateKind
    public var subject: String
    public var textBody: String
    public var htmlBody: String
    /// True for the built-in template.
    public var isDefault: Bool

    public init(kind: TemplateKind, subject: String, textBody: String, htmlBody: String, isDefault: Bool = false) {
        self.kind = kind
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.isDefault = isDefault
    }
}

/// What a template is rendered with.
public struct TemplateValues: Hashable, Sendable {
    public var email: String
    public var attributes: [String: String]
    public var code: String
    public var link: String
    public var appName: String
    public var appBaseURL: String
    /// How long the code or invitation works.
    public var expiresIn: Duration
    /// The address an email change moves the account to.
    public var newEmail: String

    public init(
        email: String,
        attributes: [String: String] = [:],
        code: String = "",
        link: String = "",
        appName: String = "",
        appBaseURL: String = "",
        expiresIn: Duration = .zero,
        newEmail: String = ""
    ) {
        self.email = email
        self.attributes = attributes
        self.code = code
        self.link = link
        self.appName = appName
        self.appBaseURL = appBaseURL
        self.expiresIn = expiresIn
        self.newEmail = newEmail
    }

    var context: [String: Any] {
        [
            "email": email,
            "attributes": attributes,
            "code": code,
            "link": link,
            "app_name": appName,
            "app_base_url": appBaseURL,
            "expires_in": DurationWords.describe(expiresIn),
            "expires_in_minutes": String(expiresIn.wholeMilliseconds / 60_000),
            "new_email": newEmail,
        ]
    }
}

/// "7 days", "15 minutes", "1 hour 30 minutes": how a person reads a validity.
public enum DurationWords {
    public static func describe(_ duration: Duration) -> String {
        let totalMinutes = max(0, duration.wholeMilliseconds / 60_000)
        let units: [(Int64, String)] = [(24 * 60, "day"), (60, "hour"), (1, "minute")]
        var remaining = totalMinutes
        var parts: [String] = []
        for (size, name) in units where remaining >= size && parts.count < 2 {
            let count = remaining / size
            remaining -= count * size
            parts.append("\(count) \(name)\(count == 1 ? "" : "s")")
        }
        return parts.isEmpty ? "less than a minute" : parts.joined(separator: " ")
    }
}

public struct RenderedEmail: Hashable, Sendable {
    public var subject: String
    public var textBody: String
    public var htmlBody: String
}

/// Parses, checks and renders templates with swift-mustache. The HTML body escapes
/// what it inserts (`{{name}}`: `<` becomes `&lt;`); subject and text body do not, and
/// the subject is folded to one line so a value cannot inject a header.
public enum EmailTemplates {
    /// Attribute names a template may use before any user holds them: the ones the
    /// design names. Any name a user holds is allowed too (see `validate`).
    public static let documentedAttributes: Set<String> = ["name", "image"]

    public static func builtIn(_ kind: TemplateKind) -> EmailTemplate {
        switch kind {
        case .invitation:
            EmailTemplate(
                kind: kind,
                subject: "You are invited to {{app_name}}",
                textBody: """
                    Hello{{#attributes.name}} {{attributes.name}}{{/attributes.name}},

                    you are invited to {{app_name}}. Choose your password here:
                    {{link}}

                    Or enter this invitation code: {{code}}
                    The invitation expires in {{expires_in}}. If you did not expect it, ignore this email.
                    """,
                htmlBody: htmlDocument(
                    title: "You are invited to {{app_name}}",
                    body: """
                        <p>Hello{{#attributes.name}} {{attributes.name}}{{/attributes.name}},</p>
                        <p>you are invited to {{app_name}}.</p>
                        <p><a href="{{link}}" style="display:inline-block;padding:10px 18px;background:#1a56db;color:#ffffff;text-decoration:none;border-radius:6px">Choose your password</a></p>
                        <p>Or enter this invitation code: <code>{{code}}</code></p>
                        <p style="color:#555555;font-size:14px">The invitation expires in {{expires_in}}. If you did not expect it, ignore this email.</p>
                        """),
                isDefault: true
            )
        case .verificationCode:
            EmailTemplate(
                kind: kind,
                subject: "Your {{app_name}} verification code",
                textBody: """
                    Your {{app_name}} verification code is {{code}}.

                    It expires in {{expires_in}} and works once. If you did not ask to reset your password, ignore this email.
                    """,
                htmlBody: htmlDocument(
                    title: "Your {{app_name}} verification code",
                    body: """
                        <p>Your {{app_name}} verification code is</p>
                        <p style="font-size:28px;font-weight:bold;letter-spacing:4px;font-family:Menlo,Consolas,monospace">{{code}}</p>
                        <p style="color:#555555;font-size:14px">It expires in {{expires_in}} and works once. If you did not ask to reset your password, ignore this email.</p>
                        """),
                isDefault: true
            )
        case .emailChangeCode, .emailChangeNotice:
            emailChange(kind)
        }
    }

    /// The built-ins of the email-change kinds (split out to keep `builtIn` readable).
    private static func emailChange(_ kind: TemplateKind) -> EmailTemplate {
        if kind == .emailChangeCode {
            return EmailTemplate(
                kind: kind,
                subject: "Confirm your new {{app_name}} email address",
                textBody: """
                    Your {{app_name}} account is moving to this address. To confirm, enter this code:

                    {{code}}

                    It expires in {{expires_in}} and works once. If you did not ask for this, ignore this email: nothing changes.
                    """,
                htmlBody: htmlDocument(
                    title: "Confirm your new {{app_name}} email address",
                    body: """
                        <p>Your {{app_name}} account is moving to this address. To confirm, enter this code:</p>
                        <p style="font-size:28px;font-weight:bold;letter-spacing:4px;font-family:Menlo,Consolas,monospace">{{code}}</p>
                        <p style="color:#555555;font-size:14px">It expires in {{expires_in}} and works once. If you did not ask for this, ignore this email: nothing changes.</p>
                        """),
                isDefault: true
            )
        }
        return EmailTemplate(
            kind: kind,
            subject: "Your {{app_name}} email address is changing",
            textBody: """
                Your {{app_name}} account is moving from {{email}} to {{new_email}}: someone signed in to it asked for this, or an administrator made the change.

                If that was you, or you expected it, there is nothing to do. If not, change your password now and tell us. A change asked for from the account waits until the new address is confirmed; a change made by an administrator is done.
                """,
            htmlBody: htmlDocument(
                title: "Your {{app_name}} email address is changing",
                body: """
                    <p>Your {{app_name}} account is moving from <strong>{{email}}</strong> to <strong>{{new_email}}</strong>: someone signed in to it asked for this, or an administrator made the change.</p>
                    <p>If that was you, or you expected it, there is nothing to do. If not, change your password now and tell us. A change asked for from the account waits until the new address is confirmed; a change made by an administrator is done.</p>
                    """),
            isDefault: true
        )
    }

    /// A complete HTML document with a readable inline style: mail clients drop <style>
    /// blocks and external sheets, so every rule is on its element.
    private static func htmlDocument(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title)</title>
        </head>
        <body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;font-size:16px;line-height:1.5;color:#1f2328">
        <div style="max-width:560px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px 28px">
        <h1 style="margin:0 0 16px;font-size:20px">{{app_name}}</h1>
        \(body)
        </div>
        </body>
        </html>
        """
    }

    /// Refuses what would send a broken email: syntax errors, placeholders the kind does
    /// not have, attributes no user can have (`knownAttributes`, a typo such as
    /// `{{attributes.nam}}`), and a text body without the code (verification) or the link
    /// or code (invitation).
    public static func validate(_ template: EmailTemplate, knownAttributes: Set<String>) throws(AuthError) {
        for (field, text, contentType) in parts(of: template) {
            let parsed = try parse(text, contentType: contentType, field: field)
            let recorder = PlaceholderRecorder()
            _ = parsed.render(recorder)
            let unknown = recorder.names.subtracting(template.kind.placeholders).subtracting(["attributes"]).sorted()
            if let name = unknown.first {
                throw .invalidArgument(
                    "\(field) uses {{\(name)}}, which \(template.kind.rawValue) emails do not have; they have "
                        + template.kind.placeholders.sorted().map { "{{\($0)}}" }.joined(separator: ", ")
                        + " and {{attributes.NAME}}",
                    field: field
                )
            }
            let unknownAttributes = recorder.attributes.subtracting(knownAttributes).sorted()
            if let name = unknownAttributes.first {
                throw .invalidArgument(
                    "\(field) uses {{attributes.\(name)}}, but no user has an attribute '\(name)'; known attributes: "
                        + knownAttributes.sorted().map { "{{attributes.\($0)}}" }.joined(separator: ", "),
                    field: field
                )
            }
        }
        let required = template.kind.requiredPlaceholders
        let textRecorder = PlaceholderRecorder()
        _ = try parse(template.textBody, contentType: "TEXT", field: "template.text_body").render(textRecorder)
        guard required.contains(where: textRecorder.names.contains) else {
            throw .invalidArgument(
                "template.text_body must use " + required.map { "{{\($0)}}" }.joined(separator: " or "),
                field: "template.text_body"
            )
        }
    }

    public static func render(_ template: EmailTemplate, values: TemplateValues) throws(AuthError) -> RenderedEmail {
        let context = values.context
        var rendered: [String] = []
        for (field, text, contentType) in parts(of: template) {
            rendered.append(try parse(text, contentType: contentType, field: field).render(context))
        }
        return RenderedEmail(subject: oneLine(rendered[0]), textBody: rendered[1], htmlBody: rendered[2])
    }

    /// A subject on one line: every line break and other control character (looked at as
    /// Unicode scalars: "\\r\\n" is one Swift Character) becomes a space, so no value can
    /// start a header of its own.
    static func oneLine(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var lastWasSpace = false
        for scalar in text.unicodeScalars {
            let isBreak = scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar == "\u{2028}" || scalar == "\u{2029}"
            if isBreak {
                if !lastWasSpace { scalars.append(" ") }
                lastWasSpace = true
            } else {
                scalars.append(scalar)
                lastWasSpace = scalar == " "
            }
        }
        return String(scalars).trimmingWhitespace()
    }

    private static func parts(of template: EmailTemplate) -> [(String, String, String)] {
        [
            ("template.subject", template.subject, "TEXT"),
            ("template.text_body", template.textBody, "TEXT"),
            ("template.html_body", template.htmlBody, "HTML"),
        ]
    }

    private static func parse(_ text: String, contentType: String, field: String) throws(AuthError) -> MustacheTemplate {
        do {
            return try MustacheTemplate(string: "{{% CONTENT_TYPE: \(contentType)}}" + text)
        } catch {
            throw .invalidArgument("\(field) is not a valid Mustache template: \(error)", field: field)
        }
    }
}

/// Answers every lookup and remembers the names asked for: top-level placeholders and
/// the attribute names under `attributes`.
private final class PlaceholderRecorder: MustacheParent, @unchecked Sendable {
    var names: Set<String> = []
    var attributes: Set<String> = []

    func child(named name: String) -> Any? {
        names.insert(name)
        return name == "attributes" ? AttributeRecorder(parent: self) : "x"
    }
}

/// Any `attributes.NAME` answers while checking; the name is recorded.
private struct AttributeRecorder: MustacheParent {
    let parent: PlaceholderRecorder

    func child(named name: String) -> Any? {
        parent.attributes.insert(name)
        return "x"
    }
}
