import Mustache

/// The emails authd sends, as operator-editable Mustache templates.
public enum TemplateKind: String, Hashable, Sendable, CaseIterable {
    case invitation
    case verificationCode = "verification_code"

    /// Placeholders a template of this kind may use (besides `attributes.*`).
    var placeholders: Set<String> {
        switch self {
        case .invitation: ["email", "app_base_url", "expires_in_minutes", "code", "link"]
        case .verificationCode: ["email", "app_base_url", "expires_in_minutes", "code"]
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
    public var appBaseURL: String
    public var expiresInMinutes: Int64

    public init(email: String, attributes: [String: String] = [:], code: String = "", link: String = "", appBaseURL: String = "", expiresInMinutes: Int64 = 0) {
        self.email = email
        self.attributes = attributes
        self.code = code
        self.link = link
        self.appBaseURL = appBaseURL
        self.expiresInMinutes = expiresInMinutes
    }

    var context: [String: Any] {
        [
            "email": email,
            "attributes": attributes,
            "code": code,
            "link": link,
            "app_base_url": appBaseURL,
            "expires_in_minutes": String(expiresInMinutes),
        ]
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
    public static func builtIn(_ kind: TemplateKind) -> EmailTemplate {
        switch kind {
        case .invitation:
            EmailTemplate(
                kind: kind,
                subject: "You are invited",
                textBody: """
                    Hello{{#attributes.name}} {{attributes.name}}{{/attributes.name}},

                    you are invited. Choose your password here: {{link}}

                    Or enter this invitation code: {{code}}
                    The invitation expires in {{expires_in_minutes}} minutes.
                    """,
                htmlBody: """
                    <p>Hello{{#attributes.name}} {{attributes.name}}{{/attributes.name}},</p>
                    <p>you are invited. <a href="{{link}}">Choose your password</a>.</p>
                    <p>Or enter this invitation code: <code>{{code}}</code><br>The invitation expires in {{expires_in_minutes}} minutes.</p>
                    """,
                isDefault: true
            )
        case .verificationCode:
            EmailTemplate(
                kind: kind,
                subject: "Your verification code",
                textBody: """
                    Your verification code is {{code}}.

                    It expires in {{expires_in_minutes}} minutes and works once. If you did not ask to reset your password, ignore this email.
                    """,
                htmlBody: """
                    <p>Your verification code is <strong>{{code}}</strong>.</p>
                    <p>It expires in {{expires_in_minutes}} minutes and works once. If you did not ask to reset your password, ignore this email.</p>
                    """,
                isDefault: true
            )
        }
    }

    /// Refuses what would send a broken email: syntax errors, placeholders the kind does
    /// not have, and a text body without the code (verification) or the link or code
    /// (invitation).
    public static func validate(_ template: EmailTemplate) throws(AuthError) {
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
        }
        let required: [String] = template.kind == .invitation ? ["link", "code"] : ["code"]
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
        let subject = rendered[0].split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        return RenderedEmail(subject: subject, textBody: rendered[1], htmlBody: rendered[2])
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

/// Answers every lookup and remembers the top-level names asked for.
private final class PlaceholderRecorder: MustacheParent, @unchecked Sendable {
    var names: Set<String> = []

    func child(named name: String) -> Any? {
        names.insert(name)
        return name == "attributes" ? AnyAttributes() : "x"
    }
}

/// Any `attributes.NAME` exists while checking.
private struct AnyAttributes: MustacheParent {
    func child(named name: String) -> Any? { "x" }
}
