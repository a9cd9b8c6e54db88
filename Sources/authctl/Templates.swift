import ArgumentParser
import AuthClient

// MARK: - Email templates

struct Templates: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "templates",
        abstract: "Email templates (invitation, verification-code, email-change-code, email-change-notice): Mustache subject, text and HTML bodies.",
        subcommands: [TemplatesGet.self, TemplatesSet.self, TemplatesReset.self, TemplatesPreview.self]
    )
}

enum TemplateKindArgument: String, ExpressibleByArgument, CaseIterable {
    case invitation
    case verificationCode = "verification-code"
    case emailChangeCode = "email-change-code"
    case emailChangeNotice = "email-change-notice"

    var kind: AuthV1.TemplateKind {
        switch self {
        case .invitation: .invitation
        case .verificationCode: .verificationCode
        case .emailChangeCode: .emailChangeCode
        case .emailChangeNotice: .emailChangeNotice
        }
    }
}

/// The template's three parts, each read from a file.
struct TemplateFiles: ParsableArguments {
    @Option(help: "File holding the subject line.")
    var subjectFile: String?

    @Option(help: "File holding the text body.")
    var textFile: String?

    @Option(help: "File holding the HTML body.")
    var htmlFile: String?

    var isEmpty: Bool { subjectFile == nil && textFile == nil && htmlFile == nil }

    /// `base` with the parts given in files replaced.
    func applied(to base: AuthV1.EmailTemplate) throws -> AuthV1.EmailTemplate {
        var template = base
        if let subjectFile { template.subject = try read(subjectFile).trimmingWhitespace }
        if let textFile { template.textBody = try read(textFile) }
        if let htmlFile { template.htmlBody = try read(htmlFile) }
        return template
    }

    private func read(_ path: String) throws -> String {
        guard let text = readTextFile(path) else { throw ValidationError("cannot read \(path)") }
        return text
    }
}

extension AuthV1.TemplateKind {
    /// The CLI's word for the kind, as `--kind` takes it.
    var word: String {
        switch self {
        case .invitation: TemplateKindArgument.invitation.rawValue
        case .verificationCode: TemplateKindArgument.verificationCode.rawValue
        case .emailChangeCode: TemplateKindArgument.emailChangeCode.rawValue
        case .emailChangeNotice: TemplateKindArgument.emailChangeNotice.rawValue
        default: description
        }
    }
}

extension AuthV1.EmailTemplate {
    var json: JSON {
        .object([
            ("kind", .string(kind.word)),
            ("subject", .string(subject)),
            ("text_body", .string(textBody)),
            ("html_body", .string(htmlBody)),
            ("is_default", .bool(isDefault)),
        ])
    }

    var text: String {
        "kind:     \(kind.word)\(isDefault ? " (built in)" : "")\nsubject:  \(subject)\n\n--- text ---\n\(textBody)\n\n--- html ---\n\(htmlBody)"
    }
}

struct TemplatesGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a template.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "invitation or verification-code.")
    var kind: TemplateKindArgument

    func run() async throws {
        let template = try await global.withAdmin { admin in
            try await admin.getTemplate(AuthV1.TemplateRequest(kind: kind.kind)).template ?? AuthV1.EmailTemplate()
        }
        global.emit(json: .object([("template", template.json)]), text: template.text)
    }
}

struct TemplatesSet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Replace parts of a template with files; the parts not given stay as they are."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "invitation or verification-code.")
    var kind: TemplateKindArgument

    @OptionGroup var files: TemplateFiles

    func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one of --subject-file, --text-file, --html-file") }
    }

    func run() async throws {
        let saved = try await global.withAdmin { admin in
            let current = try await admin.getTemplate(AuthV1.TemplateRequest(kind: kind.kind)).template ?? AuthV1.EmailTemplate(kind: kind.kind)
            let template = try files.applied(to: current)
            return try await admin.setTemplate(AuthV1.SetTemplateRequest(template: template)).template ?? template
        }
        global.emit(json: .object([("template", saved.json)]), text: saved.text)
    }
}

struct TemplatesReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reset", abstract: "Go back to the built-in template.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "invitation or verification-code.")
    var kind: TemplateKindArgument

    func run() async throws {
        let template = try await global.withAdmin { admin in
            try await admin.resetTemplate(AuthV1.TemplateRequest(kind: kind.kind)).template ?? AuthV1.EmailTemplate()
        }
        global.emit(json: .object([("template", template.json)]), text: template.text)
    }
}

struct TemplatesPreview: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preview",
        abstract: "Render the stored template, or the stored one with parts replaced by files, with sample values."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "invitation or verification-code.")
    var kind: TemplateKindArgument

    @OptionGroup var files: TemplateFiles

    @Option(name: .customLong("value"), help: ArgumentHelp("A placeholder's value, e.g. code=12345678 or attributes.name=Ada; repeat for more.", valueName: "name=value"))
    var values: [String] = []

    func validate() throws {
        for value in values where !value.contains("=") {
            throw ValidationError("--value takes name=value, got '\(value)'")
        }
    }

    func run() async throws {
        var pairs: [String: String] = [:]
        for value in values {
            let parts = value.split(separator: "=", maxSplits: 1)
            pairs[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        let rendered = try await global.withAdmin { admin in
            var template: AuthV1.EmailTemplate?
            if !files.isEmpty {
                let current = try await admin.getTemplate(AuthV1.TemplateRequest(kind: kind.kind)).template ?? AuthV1.EmailTemplate(kind: kind.kind)
                template = try files.applied(to: current)
            }
            return try await admin.previewTemplate(AuthV1.PreviewTemplateRequest(kind: kind.kind, template: template, values: pairs))
        }
        global.emit(
            json: .object([
                ("subject", .string(rendered.subject)),
                ("text_body", .string(rendered.textBody)),
                ("html_body", .string(rendered.htmlBody)),
            ]),
            text: "subject:  \(rendered.subject)\n\n--- text ---\n\(rendered.textBody)\n\n--- html ---\n\(rendered.htmlBody)"
        )
    }
}
