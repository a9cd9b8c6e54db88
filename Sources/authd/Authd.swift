import ArgumentParser
import AuthCore
import AuthCrypto
import AuthRPC
import AuthLogging
import AuthManagement
import AuthServer
import AuthdVersion
import Logging
import ServiceLifecycle

import AuthWire
import UnixSignals
#if canImport(Glibc)
import Glibc
#endif

@main
struct Authd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authd",
        abstract: "The authd authentication server.",
        discussion: """
            Serves until SIGTERM or SIGINT. Also: 'authd admin-key create --database PATH --name NAME' \
            makes an admin key straight on the database file when no admin key is left \
            ('authd admin-key create --help'); 'authd backup --database PATH --output FILE' copies \
            the database consistently while it serves ('authd backup --help').
            """,
        version: AuthdVersion.description
    )

    /// `authd admin-key …` and `authd backup` are commands of their own: their options share
    /// names with the server's (`--database`), so they are dispatched before the server's
    /// options are parsed.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == AdminKeyCommand.configuration.commandName {
            await AdminKeyCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == BackupCommand.name {
            BackupCommand.main(Array(arguments.dropFirst()))
        } else {
            await Self.main(arguments)
        }
    }

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port to listen on; 0 picks a free one.")
    var port = 7400

    @Option(help: "Largest frame accepted, in bytes.")
    var maxFrameBytes = ServerConfiguration.defaults.maximumFrameBytes

    @Option(help: "Calls one connection may have in flight.")
    var maxInFlight = ServerConfiguration.defaults.maximumCallsInFlight

    @Option(help: "Close a connection with no call in flight that completes no frame for this long, in milliseconds.")
    var idleTimeoutMs = Int(ServerConfiguration.defaults.idleTimeout / .milliseconds(1))

    @Option(help: "Connections served at once.")
    var maxConnections = ServerConfiguration.defaults.maximumConnections

    @Option(help: "Connections served at once from one peer IP address.")
    var maxConnectionsPerPeer = ServerConfiguration.defaults.maximumConnectionsPerPeer

    @Option(help: "Bytes one connection may hold read but not answered before its reads pause (at least --max-frame-bytes + 4).")
    var maxBufferedBytesPerConnection = ServerConfiguration.defaults.maximumBufferedBytesPerConnection

    @Option(help: "Bytes all connections together may hold read but not answered before reads pause.")
    var maxBufferedBytes = ServerConfiguration.defaults.maximumBufferedBytes

    @Option(help: "Metadata entries a frame may carry.")
    var maxMetadataEntries = ServerConfiguration.defaults.envelopeLimits.maximumElements

    @Option(help: "Elements a repeated or map field of a request may hold.")
    var maxRepeatedElements = ServerConfiguration.defaults.requestLimits.maximumElements

    @Option(help: "Fields a request may hold in all, nested ones and repeated elements included.")
    var maxRequestFields = ServerConfiguration.defaults.requestLimits.maximumFields

    @Option(help: "The SQLite database file; created with its schema when missing.")
    var database = "authd.sqlite"

    @Option(help: "scrypt cost: N = 2^log-n. OWASP's minimum is 17.")
    var scryptLogN = ScryptParameters.owasp.logN

    @Option(help: "scrypt block size r.")
    var scryptR = ScryptParameters.owasp.r

    @Option(help: "scrypt parallelism p.")
    var scryptP = ScryptParameters.owasp.p

    @Option(help: "Threads hashing passwords (default: one per core).")
    var hashingThreads = PasswordHasher.defaultThreadCount

    @Option(help: "Shortest password accepted (at least 6).")
    var passwordMinLength = 6

    @Option(help: "A session unused this long ends, in seconds.")
    var sessionIdleTimeoutS = 7 * 24 * 3600

    @Option(help: "A session ends this long after sign-in, in seconds.")
    var sessionAbsoluteTimeoutS = 30 * 24 * 3600

    @Option(help: "Sender of emails.")
    var mailFrom = "authd <no-reply@localhost>"

    @Option(help: "Where a first start on an empty database writes the first admin key (default: <database>.admin-key).")
    var adminKeyFile: String?

    @Flag(help: "Require a service-scope API key on Auth calls too.")
    var requireServiceKey = false

    @Option(help: "Outbox: transient failures after which a message is dead.")
    var mailMaxAttempts = MailPolicy.defaults.maximumAttempts

    @Option(help: "Outbox: the first retry waits about this long (then doubling, with jitter), in milliseconds.")
    var mailRetryBaseMs = Int(MailPolicy.defaults.baseRetryDelay.wholeMilliseconds)

    @Option(help: "Outbox: sent messages are deleted this many hours after sending.")
    var mailSentRetentionHours = Int(MailPolicy.defaults.sentRetention.wholeMilliseconds / 3_600_000)

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log line format: text (for people) or json (one object a line: time, level, label, message, metadata).")
    var logFormat: String = LogFormat.text.rawValue

    @Option(help: "Serve /healthz, /readyz and /metrics over HTTP on this port (0 picks a free one); off when not given, and then no metric is recorded.")
    var managementPort: Int?

    @Option(help: "Address the management port listens on.")
    var managementHost = ManagementConfiguration.defaults.host

    @Option(help: "On SIGTERM, how long calls in flight may take to finish before their connections are closed, in milliseconds.")
    var shutdownGraceMs = Int(ServerConfiguration.defaults.shutdownGracePeriod / .milliseconds(1))

    mutating func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard maxFrameBytes >= 64 else { throw ValidationError("--max-frame-bytes must be at least 64") }
        guard maxInFlight >= 1 else { throw ValidationError("--max-in-flight must be at least 1") }
        guard idleTimeoutMs >= 1 else { throw ValidationError("--idle-timeout-ms must be at least 1") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxConnectionsPerPeer >= 1 else { throw ValidationError("--max-connections-per-peer must be at least 1") }
        guard maxMetadataEntries >= 1, maxRepeatedElements >= 1, maxRequestFields >= 1 else {
            throw ValidationError("--max-metadata-entries, --max-repeated-elements and --max-request-fields must be at least 1")
        }
        if let problem = rpcConfiguration.problem {
            throw ValidationError("--max-buffered-bytes-per-connection and --max-buffered-bytes: \(problem)")
        }
        guard (1...24).contains(scryptLogN), scryptR >= 1, scryptP >= 1 else {
            throw ValidationError("scrypt parameters out of range: --scrypt-log-n 1...24, --scrypt-r and --scrypt-p at least 1")
        }
        guard hashingThreads >= 1 else { throw ValidationError("--hashing-threads must be at least 1") }
        guard (6...64).contains(passwordMinLength) else { throw ValidationError("--password-min-length must be 6...64") }
        guard sessionIdleTimeoutS >= 60, sessionAbsoluteTimeoutS >= sessionIdleTimeoutS else {
            throw ValidationError("--session-idle-timeout-s must be at least 60 and at most --session-absolute-timeout-s")
        }
        guard mailMaxAttempts >= 1, mailRetryBaseMs >= 1, mailSentRetentionHours >= 1 else {
            throw ValidationError("--mail-max-attempts, --mail-retry-base-ms and --mail-sent-retention-hours must be at least 1")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a log level") }
        guard LogFormat(rawValue: logFormat) != nil else {
            throw ValidationError("--log-format '\(logFormat)' is not one of \(LogFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let managementPort, !(0...65535).contains(managementPort) {
            throw ValidationError("--management-port must be 0...65535, got \(managementPort)")
        }
        guard shutdownGraceMs >= 0 else { throw ValidationError("--shutdown-grace-ms must be at least 0") }
    }

    var rpcConfiguration: ServerConfiguration {
        var rpc = ServerConfiguration.defaults
        rpc.host = host
        rpc.port = port
        rpc.maximumFrameBytes = maxFrameBytes
        rpc.maximumCallsInFlight = maxInFlight
        rpc.idleTimeout = .milliseconds(idleTimeoutMs)
        rpc.maximumConnections = maxConnections
        rpc.maximumConnectionsPerPeer = maxConnectionsPerPeer
        rpc.maximumBufferedBytesPerConnection = maxBufferedBytesPerConnection
        rpc.maximumBufferedBytes = maxBufferedBytes
        rpc.envelopeLimits.maximumElements = maxMetadataEntries
        rpc.requestLimits.maximumElements = maxRepeatedElements
        rpc.requestLimits.maximumFields = maxRequestFields
        rpc.shutdownGracePeriod = .milliseconds(shutdownGraceMs)
        return rpc
    }

    func run() async throws {
        restrictFileModes()
        let level = Logger.Level(rawValue: logLevel) ?? .info
        AuthLogHandler.bootstrap(
            format: LogFormat(rawValue: logFormat) ?? .text, level: level, metadataProvider: CallLogMetadata.provider)
        let logger = Logger(label: "authd")

        let rpc = rpcConfiguration
        let identity = IdentityConfiguration(
            passwords: .init(minimumLength: passwordMinLength),
            sessions: .init(
                idleTimeout: .seconds(sessionIdleTimeoutS),
                absoluteTimeout: .seconds(sessionAbsoluteTimeoutS)
            ),
            mailFrom: mailFrom
        )
        let server = try AuthdServer(
            configuration: .init(
                rpc: rpc,
                databasePath: database,
                scrypt: ScryptParameters(logN: scryptLogN, r: scryptR, p: scryptP),
                hashingThreads: hashingThreads,
                identity: identity,
                firstAdminKeyFile: adminKeyFile,
                requireServiceKey: requireServiceKey,
                mail: MailPolicy(
                    maximumAttempts: mailMaxAttempts,
                    baseRetryDelay: .milliseconds(mailRetryBaseMs),
                    sentRetention: .seconds(mailSentRetentionHours * 3600)
                ),
                management: ManagementConfiguration(
                    enabled: managementPort != nil, host: managementHost, port: managementPort ?? 0)
            ),
            logger: logger
        )
        if let keyFile = try await server.createFirstAdminKeyIfNeeded() {
            print("authd first admin key written to \(keyFile)")
            print("  use it with: \(Self.authctlCommand) --key-file \(keyFile) users list")
        }
        try await server.start()
        // Scripts and tests wait for this line to learn the port.
        print("authd listening on \(host):\(server.localPort ?? port)")
        fflush(nil)
        if managementPort != nil {
            // Known once the service group below has started it.
            Task { [managementHost] in
                if let bound = await server.managementPort() {
                    print("authd management listening on \(managementHost):\(bound)")
                    fflush(nil)
                }
            }
        }

        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// How to run authctl from here: it is built and installed beside authd, so the path
    /// authd was started by with its last component changed (`.build/debug/authctl` after
    /// `make run`); plain `authctl` when authd was found on PATH.
    static var authctlCommand: String {
        let invokedAs = CommandLine.arguments.first ?? "authd"
        guard let slash = invokedAs.lastIndex(of: "/") else { return "authctl" }
        return invokedAs[...slash] + "authctl"
    }
}
