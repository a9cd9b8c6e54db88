import AuthClient
import AuthConfig
import AuthMailer
import AuthLogging
import Logging

/// What auth-mailer is configured with. The worker's and the SMTP transport's defaults are
/// their configuration structs' own; this file says which keys exist and what they allow.
struct MailerSettings {
    enum TransportKind: String, CaseIterable {
        case smtp
        case file
    }

    /// authd's RPC port, HOST:PORT ("[::1]:7400" for IPv6).
    var address = "127.0.0.1:7400"
    var key: String?
    var keyFile: String?
    var tls = ClientTLSDraft()
    /// An empty worker id means HOSTNAME-PID, set at start.
    var worker = MailWorkerConfiguration(workerID: "")
    var transport = TransportKind.smtp
    var smtp = SMTPConfiguration()
    var smtpPasswordFile: String?
    var outDir: String?
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text

    static var schema: SettingsSchema<MailerSettings> {
        typealias S = Setting<MailerSettings>
        return SettingsSchema(
            program: "auth-mailer",
            environmentPrefix: "AUTH_MAILER",
            defaults: MailerSettings(),
            sections: [
                .init("authd", [
                    S.text("address", \.address, help: "authd's RPC port, HOST:PORT.", environmentAliases: ["AUTHD_ADDRESS"]),
                    S.optionalText("key", \.key, help: "Mailer-scope API key. Prefer keyFile: arguments are visible to local users.",
                                   isSecret: true, environmentAliases: ["AUTHD_MAILER_KEY"], defaultDescription: "unset"),
                    S.optionalText("keyFile", \.keyFile, help: "File holding the mailer key.",
                                   environmentAliases: ["AUTHD_MAILER_KEY_FILE"], defaultDescription: "unset"),
                ] + ClientTLSDraft.settings(\.tls)),
                .init("Worker", [
                    S(
                        "workerId", kind: .text(allowEmpty: false), help: "Worker name in leases and logs.",
                        defaultDescription: "HOSTNAME-PID",
                        get: { $0.worker.workerID.isEmpty ? nil : .text($0.worker.workerID) },
                        set: { root, value in if let id = value.string { root.worker.workerID = id } }
                    ),
                    S.integer("batchSize", \.worker.batchSize, 1...500, help: "Messages leased at once."),
                    S(
                        "lease", kind: .duration(.seconds(2)...(.seconds(86_400))),
                        help: "How long a lease holds, in whole seconds; renewed when a batch takes half of it.",
                        get: { .duration(.seconds($0.worker.leaseSeconds)) },
                        set: { root, value in
                            if let lease = value.duration { root.worker.leaseSeconds = Int(lease.components.seconds) }
                        }
                    ),
                    S.duration("pollInterval", \.worker.pollInterval, .milliseconds(1)...(.seconds(3600)),
                               help: "Wait before asking again when the queue is empty."),
                    S.choice("transport", \.transport, help: "Send through SMTP, or write .eml files (development)."),
                    S.optionalText("outDir", \.outDir, help: "Directory of the file transport.", defaultDescription: "unset"),
                    S(
                        "logFormat", kind: .choice(LogFormat.allCases.map(\.rawValue)),
                        help: "Log line format: text, or json (one object a line).",
                        get: { .text($0.logFormat.rawValue) },
                        set: { root, value in if let name = value.string, let format = LogFormat(rawValue: name) { root.logFormat = format } }
                    ),
                    S(
                        "logLevel", kind: .choice(Logger.Level.allCases.map(\.rawValue)), help: "The least severe log level written.",
                        get: { .text($0.logLevel.rawValue) },
                        set: { root, value in if let name = value.string, let level = Logger.Level(rawValue: name) { root.logLevel = level } }
                    ),
                ]),
                .init("SMTP", [
                    S.text("smtp.url", \.smtp.url, help: "smtp://HOST:PORT (STARTTLS as smtp.starttls says) or smtps://HOST:PORT (implicit TLS)."),
                    S.choice("smtp.starttls", \.smtp.startTLS, help: "STARTTLS on smtp:// URLs: required, optional or off.",
                             environmentAliases: ["AUTH_MAILER_STARTTLS"]),
                    S.optionalText("smtp.user", \.smtp.username, help: "SMTP AUTH user name.", defaultDescription: "unset"),
                    S.optionalText("smtp.password", \.smtp.password, help: "SMTP AUTH password. Prefer smtp.passwordFile.",
                                   isSecret: true, defaultDescription: "unset"),
                    S.optionalText("smtp.passwordFile", \.smtpPasswordFile, help: "File holding the SMTP password.", defaultDescription: "unset"),
                    S.duration("smtp.timeout", \.smtp.timeout, .seconds(1)...(.seconds(3600)),
                               help: "Limit on one message's SMTP exchange (at most half the lease)."),
                    S.optionalText("smtp.caFile", \.smtp.caFile, help: "PEM CAs trusted for the SMTP server's certificate.",
                                   defaultDescription: "the system's"),
                    S.boolean("smtp.insecure", \.smtp.insecure, help: "Do not verify the SMTP server's certificate; for tests only."),
                ]),
            ],
            checks: [
                { settings in
                    settings.key != nil && settings.keyFile != nil
                        ? CrossKeyProblem(keys: ["key", "keyFile"], "give the key or a file holding it, not both") : nil
                },
                { settings in
                    settings.key == nil && settings.keyFile == nil
                        ? CrossKeyProblem(keys: ["key", "keyFile"], "no mailer key: set keyFile (AUTH_MAILER_KEY_FILE, --key-file) or key") : nil
                },
                { settings in
                    settings.smtp.password != nil && settings.smtpPasswordFile != nil
                        ? CrossKeyProblem(keys: ["smtp.password", "smtp.passwordFile"], "give the password or a file holding it, not both") : nil
                },
                { settings in
                    (settings.smtp.password != nil || settings.smtpPasswordFile != nil) && settings.smtp.username == nil
                        ? CrossKeyProblem(keys: ["smtp.user", "smtp.password", "smtp.passwordFile"], "an SMTP password needs a user name") : nil
                },
                { settings in
                    settings.transport == .smtp && settings.smtp.timeout * 2 > .seconds(settings.worker.leaseSeconds)
                        ? CrossKeyProblem(keys: ["smtp.timeout", "lease"], "the SMTP timeout must be at most half the lease, or a slow send outlives its lease")
                        : nil
                },
                { settings in
                    let lower = settings.smtp.url.lowercased()
                    return settings.transport == .smtp && !(lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://"))
                        ? CrossKeyProblem(keys: ["smtp.url"], "\"\(settings.smtp.url)\" must start with smtp:// or smtps://") : nil
                },
                { settings in
                    settings.transport == .file && settings.outDir == nil
                        ? CrossKeyProblem(keys: ["transport", "outDir"], "the file transport needs outDir") : nil
                },
                { settings in
                    (try? Endpoint(settings.address)) == nil
                        ? CrossKeyProblem(keys: ["address"], "\"\(settings.address)\" is not HOST:PORT with a port from 1 to 65535") : nil
                },
                { settings in settings.tls.problem(prefix: "tls") },
            ]
        )
    }
}

/// HOST:PORT, with IPv6 hosts in brackets.
struct Endpoint {
    let host: String
    let port: Int

    struct Invalid: Error {}

    init(_ text: String) throws(Invalid) {
        guard let colon = text.lastIndex(of: ":"),
              let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port)
        else { throw Invalid() }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw Invalid() }
        self.host = host
        self.port = port
    }
}

/// A client's TLS keys as given: `tls.ca`, `tls.cert`, `tls.key`, `tls.serverName`.
struct ClientTLSDraft {
    var ca: String?
    var cert: String?
    var key: String?
    var serverName: String?

    static func settings<Root>(_ path: WritableKeyPath<Root, ClientTLSDraft>) -> [Setting<Root>] {
        [
            .optionalText("tls.ca", path.appending(path: \.ca),
                          help: "PEM CAs that sign authd's certificate; setting any tls key turns TLS on.", defaultDescription: "unset: plaintext"),
            .optionalText("tls.cert", path.appending(path: \.cert), help: "PEM client certificate, for an authd that asks for one (mTLS).",
                          defaultDescription: "unset"),
            .optionalText("tls.key", path.appending(path: \.key), help: "PEM private key of the client certificate.", defaultDescription: "unset"),
            .optionalText("tls.serverName", path.appending(path: \.serverName),
                          help: "The name authd's certificate must carry.", defaultDescription: "the address's host"),
        ]
    }

    var configuration: ClientTLSConfiguration? {
        guard ca != nil || cert != nil || key != nil || serverName != nil else { return nil }
        return ClientTLSConfiguration(trustRootsFile: ca, certificateChainFile: cert, privateKeyFile: key, serverName: serverName)
    }

    func problem(prefix: String) -> CrossKeyProblem? {
        (cert == nil) != (key == nil)
            ? CrossKeyProblem(keys: ["\(prefix).cert", "\(prefix).key"], "a client certificate needs its key, and a key its certificate") : nil
    }
}
