import ArgumentParser
import AuthLogging
import AuthClient
import AuthMailer
import AuthdVersion
import Logging
import ServiceLifecycle

import UnixSignals
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct AuthMailerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "auth-mailer",
        abstract: "Drains authd's outbox: leases messages, sends them through SMTP or to files, acknowledges.",
        discussion: """
            Every option has an environment variable (in parentheses); a flag wins over the environment.
            SIGTERM or SIGINT: stop leasing, finish the message in progress, acknowledge what was sent,
            release the rest, exit 0. Exit codes: 0 stopped, 64 usage, 77 key refused, 70 anything else.
            """,
        version: AuthdVersion.description
    )

    @Option(help: "authd address HOST:PORT (AUTHD_ADDRESS; default 127.0.0.1:7400).")
    var address: String?

    @Option(help: "Mailer-scope API key (AUTHD_MAILER_KEY). Prefer --key-file: arguments are visible to local users.")
    var key: String?

    @Option(help: "File holding the mailer key (AUTHD_MAILER_KEY_FILE).")
    var keyFile: String?

    @Option(help: "Worker name in leases and logs (AUTH_MAILER_WORKER_ID; default HOSTNAME-PID).")
    var workerID: String?

    @Option(help: "Messages leased at once, 1...500 (AUTH_MAILER_BATCH_SIZE; default 50).")
    var batchSize: Int?

    @Option(help: "Lease duration in seconds, at least 2 (AUTH_MAILER_LEASE_SECONDS; default 60).")
    var leaseSeconds: Int?

    @Option(help: "Wait when the queue is empty, in milliseconds (AUTH_MAILER_POLL_INTERVAL_MS; default 1000).")
    var pollIntervalMs: Int?

    @Option(help: "smtp or file (AUTH_MAILER_TRANSPORT; default smtp).")
    var transport: String?

    @Option(help: "smtp://HOST:PORT or smtps://HOST:PORT for implicit TLS (AUTH_MAILER_SMTP_URL; default smtp://127.0.0.1:25).")
    var smtpURL: String?

    @Option(help: "STARTTLS on smtp:// URLs: required, optional or off (AUTH_MAILER_STARTTLS; default required).")
    var starttls: String?

    @Option(help: "SMTP AUTH user name (AUTH_MAILER_SMTP_USER).")
    var smtpUser: String?

    @Option(help: "SMTP AUTH password (AUTH_MAILER_SMTP_PASSWORD). Prefer --smtp-password-file.")
    var smtpPassword: String?

    @Option(help: "File holding the SMTP password (AUTH_MAILER_SMTP_PASSWORD_FILE).")
    var smtpPasswordFile: String?

    @Option(help: "Limit on one message's SMTP exchange, seconds (AUTH_MAILER_SMTP_TIMEOUT_S; default 30).")
    var smtpTimeoutS: Int?

    @Option(help: "PEM file of CAs trusted for the SMTP server's certificate (AUTH_MAILER_SMTP_CA_FILE).")
    var smtpCAFile: String?

    @Flag(help: "Do not verify the SMTP server's certificate; for tests only (AUTH_MAILER_SMTP_INSECURE=1).")
    var smtpInsecure = false

    @Option(help: "Directory of the file transport (AUTH_MAILER_OUT_DIR).")
    var outDir: String?

    @Option(help: "trace, debug, info, notice, warning, error, critical (AUTH_MAILER_LOG_LEVEL; default info).")
    var logLevel: String?

    @Option(help: "text or json: one JSON object a line (AUTH_MAILER_LOG_FORMAT; default text).")
    var logFormat: String?

    func run() async throws {
        let settings: Settings
        do {
            settings = try resolve()
        } catch let error as ValidationError {
            FileHandleStderr.print("auth-mailer: \(error.message)\n")
            throw ExitCode(64)
        }
        AuthLogHandler.bootstrap(format: settings.logFormat, level: settings.logLevel)
        let logger = Logger(label: "auth-mailer")

        let mailTransport: any MailTransport
        do {
            switch settings.transport {
            case .smtp(let smtp):
                mailTransport = try SMTPTransport(configuration: smtp)
                logger.info("SMTP transport", metadata: ["url": "\(smtp.url)", "starttls": "\(smtp.startTLS.rawValue)"])
            case .file(let directory):
                let files = FileTransport(directory: directory)
                try files.prepare()
                mailTransport = files
                logger.info("file transport", metadata: ["directory": "\(directory)"])
            }
        } catch {
            logger.critical("cannot set up the transport: \(error.reason)")
            throw ExitCode(70)
        }

        let client = AuthdClient(
            host: settings.host, port: settings.port,
            configuration: ClientConfiguration(
                defaultTimeout: .seconds(15),
                metadata: ["authorization": "Bearer \(settings.key)"],
                connectTimeout: .seconds(5)))
        let worker = MailWorker(
            configuration: settings.worker,
            outbox: RemoteOutbox(client: client.mail),
            transport: mailTransport,
            logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: WorkerService(worker: worker))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        do {
            try await group.run()
        } catch let error as MailWorkerError {
            logger.critical("\(error)")
            await client.close()
            throw ExitCode(77)
        } catch {
            logger.critical("\(error)")
            await client.close()
            throw ExitCode(70)
        }
        await client.close()
    }

    struct Settings {
        enum Transport {
            case smtp(SMTPConfiguration)
            case file(String)
        }
        var host: String
        var port: Int
        var key: String
        var worker: MailWorkerConfiguration
        var transport: Transport
        var logLevel: Logger.Level
        var logFormat: LogFormat
    }

    /// Flags, then environment, then defaults; every problem is a ValidationError (exit 64).
    func resolve() throws -> Settings {
        func env(_ name: String) -> String? {
            guard let value = getenv(name) else { return nil }
            let text = String(cString: value)
            return text.isEmpty ? nil : text
        }
        func integer(_ flag: Int?, _ variable: String, _ fallback: Int, _ range: ClosedRange<Int>, _ name: String) throws -> Int {
            var value = fallback
            if let flag {
                value = flag
            } else if let text = env(variable) {
                guard let parsed = Int(text) else { throw ValidationError("\(variable)='\(text)' is not a number") }
                value = parsed
            }
            guard range.contains(value) else {
                throw ValidationError("\(name) must be \(range.lowerBound)...\(range.upperBound), got \(value)")
            }
            return value
        }
        func secretFile(_ path: String, _ source: String) throws -> String {
            guard let text = readFile(path) else { throw ValidationError("cannot read \(path) (\(source))") }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { throw ValidationError("\(path) (\(source)) is empty") }
            return trimmed
        }

        let addressText = address ?? env("AUTHD_ADDRESS") ?? "127.0.0.1:7400"
        guard let colon = addressText.lastIndex(of: ":"),
              let port = Int(addressText[addressText.index(after: colon)...]), (1...65535).contains(port)
        else { throw ValidationError("address '\(addressText)' is not HOST:PORT") }
        var host = String(addressText[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("address '\(addressText)' has no host") }

        if key != nil, keyFile != nil { throw ValidationError("give --key or --key-file, not both") }
        let resolvedKey: String
        if let key {
            resolvedKey = key.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let keyFile {
            resolvedKey = try secretFile(keyFile, "--key-file")
        } else if let key = env("AUTHD_MAILER_KEY") {
            resolvedKey = key.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let path = env("AUTHD_MAILER_KEY_FILE") {
            resolvedKey = try secretFile(path, "AUTHD_MAILER_KEY_FILE")
        } else {
            throw ValidationError("no mailer key: pass --key or --key-file, or set AUTHD_MAILER_KEY or AUTHD_MAILER_KEY_FILE")
        }
        guard !resolvedKey.isEmpty else { throw ValidationError("the mailer key is empty") }

        var hostname = [CChar](repeating: 0, count: 256)
        gethostname(&hostname, hostname.count - 1)
        let hostnameBytes = hostname.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        let defaultWorkerID = "\(String(decoding: hostnameBytes, as: UTF8.self))-\(getpid())"
        let worker = MailWorkerConfiguration(
            workerID: workerID ?? env("AUTH_MAILER_WORKER_ID") ?? defaultWorkerID,
            batchSize: try integer(batchSize, "AUTH_MAILER_BATCH_SIZE", 50, 1...500, "--batch-size"),
            leaseSeconds: try integer(leaseSeconds, "AUTH_MAILER_LEASE_SECONDS", 60, 2...86_400, "--lease-seconds"),
            pollInterval: .milliseconds(try integer(pollIntervalMs, "AUTH_MAILER_POLL_INTERVAL_MS", 1000, 1...3_600_000, "--poll-interval-ms")))

        let transportName = transport ?? env("AUTH_MAILER_TRANSPORT") ?? "smtp"
        let resolvedTransport: Settings.Transport
        switch transportName {
        case "smtp":
            let url = smtpURL ?? env("AUTH_MAILER_SMTP_URL") ?? "smtp://127.0.0.1:25"
            let lower = url.lowercased()
            guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") else {
                throw ValidationError("--smtp-url '\(url)' must start with smtp:// or smtps://")
            }
            let tlsText = starttls ?? env("AUTH_MAILER_STARTTLS") ?? "required"
            guard let startTLS = SMTPConfiguration.StartTLS(rawValue: tlsText) else {
                throw ValidationError("--starttls must be required, optional or off, got '\(tlsText)'")
            }
            if smtpPassword != nil, smtpPasswordFile != nil {
                throw ValidationError("give --smtp-password or --smtp-password-file, not both")
            }
            var password = smtpPassword
            if password == nil, let path = smtpPasswordFile { password = try secretFile(path, "--smtp-password-file") }
            if password == nil { password = env("AUTH_MAILER_SMTP_PASSWORD") }
            if password == nil, let path = env("AUTH_MAILER_SMTP_PASSWORD_FILE") {
                password = try secretFile(path, "AUTH_MAILER_SMTP_PASSWORD_FILE")
            }
            let user = smtpUser ?? env("AUTH_MAILER_SMTP_USER")
            if password != nil, user == nil { throw ValidationError("an SMTP password needs --smtp-user") }
            let timeout = try integer(smtpTimeoutS, "AUTH_MAILER_SMTP_TIMEOUT_S", 30, 1...3600, "--smtp-timeout-s")
            if timeout * 2 > worker.leaseSeconds {
                throw ValidationError("--smtp-timeout-s (\(timeout)) must be at most half of --lease-seconds (\(worker.leaseSeconds)), or a slow send outlives its lease")
            }
            resolvedTransport = .smtp(SMTPConfiguration(
                url: url, startTLS: startTLS, username: user, password: password,
                timeout: .seconds(timeout),
                caFile: smtpCAFile ?? env("AUTH_MAILER_SMTP_CA_FILE"),
                insecure: smtpInsecure || env("AUTH_MAILER_SMTP_INSECURE") == "1"))
        case "file":
            guard let directory = outDir ?? env("AUTH_MAILER_OUT_DIR") else {
                throw ValidationError("the file transport needs --out-dir (or AUTH_MAILER_OUT_DIR)")
            }
            resolvedTransport = .file(directory)
        default:
            throw ValidationError("--transport must be smtp or file, got '\(transportName)'")
        }

        let levelText = logLevel ?? env("AUTH_MAILER_LOG_LEVEL") ?? "info"
        guard let level = Logger.Level(rawValue: levelText) else {
            throw ValidationError("--log-level '\(levelText)' is not a log level")
        }
        let formatText = logFormat ?? env("AUTH_MAILER_LOG_FORMAT") ?? LogFormat.text.rawValue
        guard let format = LogFormat(rawValue: formatText) else {
            throw ValidationError("--log-format '\(formatText)' is not text or json")
        }
        return Settings(
            host: host, port: port, key: resolvedKey, worker: worker, transport: resolvedTransport, logLevel: level,
            logFormat: format)
    }
}

/// The worker as a ServiceLifecycle service: graceful shutdown asks it to stop, and `run`
/// returns once it has acknowledged and released its batch.
struct WorkerService: Service {
    let worker: MailWorker

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await worker.run()
        } onGracefulShutdown: {
            worker.stop()
        }
    }
}

enum FileHandleStderr {
    static func print(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    enum TrimSet { case whitespacesAndNewlines }

    func trimmingCharacters(in _: TrimSet) -> String {
        var view = self[...]
        while let first = view.first, first.isWhitespace { view = view.dropFirst() }
        while let last = view.last, last.isWhitespace { view = view.dropLast() }
        return String(view)
    }
}
