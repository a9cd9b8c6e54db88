import AuthClient
import AuthConfig
import AuthLogging
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
enum AuthMailerCommand {
    static let abstract = "auth-mailer: drains authd's outbox: leases messages, sends them through SMTP or to files, acknowledges."
    static let discussion = """
        SIGTERM or SIGINT: stop leasing, finish the message in progress, acknowledge what was sent, \
        release the rest, exit 0. Exit codes: 0 stopped, 64 usage (a bad value, naming its key and \
        source), 77 key refused, 70 anything else. docs/mailer.md describes every key.
        """

    static func main() async {
        let schema = MailerSettings.schema
        let settings: Settings
        do {
            let loaded = try await schema.load(arguments: Array(CommandLine.arguments.dropFirst()))
            switch loaded.request {
            case .help:
                print(schema.help(abstract: abstract, usage: ["auth-mailer [--config <path>] [options]"], discussion: discussion), terminator: "")
                return
            case .version:
                print(AuthdVersion.description)
                return
            case .reference:
                print(schema.reference(), terminator: "")
                return
            case .printConfig:
                print(loaded.resolved!.printedJSON(), terminator: "")
                return
            case .run:
                settings = try Settings(loaded.resolved!)
            }
        } catch {
            FileHandleStderr.print("auth-mailer: \(error)\n")
            exit(64)
        }
        do {
            try await run(settings)
        } catch let error as ExitStatus {
            exit(error.code)
        } catch {
            FileHandleStderr.print("auth-mailer: \(error)\n")
            exit(70)
        }
    }

    struct ExitStatus: Error {
        let code: Int32
    }

    static func run(_ settings: Settings) async throws {
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
            throw ExitStatus(code: 70)
        }

        let client = AuthdClient(
            host: settings.host, port: settings.port,
            configuration: ClientConfiguration(
                defaultTimeout: .seconds(15),
                metadata: ["authorization": "Bearer \(settings.key)"],
                connectTimeout: .seconds(5),
                tls: settings.tls))
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
            throw ExitStatus(code: 77)
        } catch {
            logger.critical("\(error)")
            await client.close()
            throw ExitStatus(code: 70)
        }
        await client.close()
    }

    /// The settings in the shapes the worker takes, with the secret files read.
    struct Settings {
        enum Transport {
            case smtp(SMTPConfiguration)
            case file(String)
        }
        var host: String
        var port: Int
        var key: String
        var tls: ClientTLSConfiguration?
        var worker: MailWorkerConfiguration
        var transport: Transport
        var logLevel: Logger.Level
        var logFormat: LogFormat

        init(_ resolved: ResolvedSettings<MailerSettings>) throws(ConfigurationError) {
            let settings = resolved.root
            func secretFile(_ path: String, _ key: String) throws(ConfigurationError) -> String {
                guard let text = readFile(path) else {
                    throw ConfigurationError("\(key) (\(resolved.origin(of: key))): cannot read \(path)")
                }
                let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !trimmed.isEmpty else { throw ConfigurationError("\(key) (\(resolved.origin(of: key))): \(path) is empty") }
                return trimmed
            }
            let endpoint = try? Endpoint(settings.address)
            host = endpoint?.host ?? ""
            port = endpoint?.port ?? 0
            if let keyFile = settings.keyFile {
                key = try secretFile(keyFile, "keyFile")
            } else {
                key = (settings.key ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
                guard !key.isEmpty else { throw ConfigurationError("key (\(resolved.origin(of: "key"))): the mailer key is empty") }
            }
            tls = settings.tls.configuration
            worker = settings.worker
            if worker.workerID.isEmpty {
                var hostname = [CChar](repeating: 0, count: 256)
                gethostname(&hostname, hostname.count - 1)
                let hostnameBytes = hostname.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
                worker.workerID = "\(String(decoding: hostnameBytes, as: UTF8.self))-\(getpid())"
            }
            switch settings.transport {
            case .smtp:
                var smtp = settings.smtp
                if let path = settings.smtpPasswordFile { smtp.password = try secretFile(path, "smtp.passwordFile") }
                transport = .smtp(smtp)
            case .file:
                transport = .file(settings.outDir ?? "")
            }
            logLevel = settings.logLevel
            logFormat = settings.logFormat
        }
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
