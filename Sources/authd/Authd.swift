import ArgumentParser
import AuthConfig
import AuthLogging
import AuthManagement
import AuthCore
import AuthRPC
import AuthServer
import AuthdVersion
import Logging
import ServiceLifecycle
import UnixSignals

import AuthWire
#if canImport(Glibc)
import Glibc
#endif

@main
enum Authd {
    /// `authd admin-key …`, `authd backup` and `authd migrate-store` are commands of their own: their options share
    /// names with the server's (`--database`), so they are dispatched before the server's
    /// options are read.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == AdminKeyCommand.configuration.commandName {
            await AdminKeyCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == BackupCommand.name {
            BackupCommand.main(Array(arguments.dropFirst()))
        } else if arguments.first == MigrateStoreCommand.name {
            await MigrateStoreCommand.main(Array(arguments.dropFirst()))
        } else {
            await serve(arguments)
        }
    }

    static let abstract = "authd: the authentication server."
    static let usage = [
        "authd [--config <path>] [options]",
        "authd admin-key create --database <path> --name <name>   (an admin key when none is left)",
        "authd backup --database <path> --output <file>           (a consistent copy while it serves)",
        "authd migrate-store --from <store> --to <store>          (SQLite to PostgreSQL or back, into an empty store)",
    ]
    static let discussion = """
        Serves until SIGTERM or SIGINT, which finish calls in flight first; SIGHUP reads the TLS \
        files again. A bad value stops the start with exit code 64, naming the key and its source. \
        docs/configuration.md describes every key.
        """

    static func serve(_ arguments: [String]) async {
        let schema = AuthdSettings.schema
        let loaded: SettingsSchema<AuthdSettings>.Loaded
        let server: AuthdServer.Configuration
        do {
            loaded = try await schema.load(arguments: arguments)
            switch loaded.request {
            case .help:
                print(schema.help(abstract: abstract, usage: usage, discussion: discussion), terminator: "")
                return
            case .version:
                print(AuthdVersion.description)
                return
            case .reference:
                print(schema.reference(), terminator: "")
                return
            case .printConfig, .run:
                break
            }
            server = try loaded.resolved!.root.serverConfiguration()
            try checkTLSFiles(server.rpc.tls, loaded.resolved!)
        } catch {
            printError("authd: \(error)")
            exit(64)
        }
        let resolved = loaded.resolved!
        if loaded.request == .printConfig {
            print(resolved.printedJSON(), terminator: "")
            return
        }
        do {
            try await run(server, logLevel: resolved.root.logLevel, logFormat: resolved.root.logFormat)
        } catch {
            printError("authd: \(error)")
            exit(1)
        }
    }

    /// A certificate or key that cannot be read is a configuration error like any other:
    /// named by its key and source, before anything starts.
    static func checkTLSFiles(_ tls: ServerTLSConfiguration?, _ resolved: ResolvedSettings<AuthdSettings>) throws(ConfigurationError) {
        guard let tls else { return }
        do {
            _ = try tls.makeContext()
        } catch {
            let files = [
                ("tls.certFile", tls.certificateChainFile), ("tls.keyFile", tls.privateKeyFile),
                ("tls.clientCaFile", tls.clientCAFile ?? ""),
            ]
            let keys = files.filter { $0.1 == error.file }.map { "\($0.0) (\(resolved.origin(of: $0.0)))" }
            throw ConfigurationError((keys.isEmpty ? "" : keys.joined(separator: ", ") + ": ") + error.description)
        }
    }

    static func run(_ configuration: AuthdServer.Configuration, logLevel: Logger.Level, logFormat: LogFormat) async throws {
        restrictFileModes()
        AuthLogHandler.bootstrap(format: logFormat, level: logLevel, metadataProvider: CallLogMetadata.provider)
        let logger = Logger(label: "authd")
        let server = try await AuthdServer(configuration: configuration, logger: logger)
        if let keyFile = try await server.createFirstAdminKeyIfNeeded() {
            print("authd first admin key written to \(keyFile)")
            print("  use it with: \(authctlCommand) --key-file \(keyFile) users list")
        }
        // Trapped before the port is announced, so a SIGHUP right after cannot end the process.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        try await server.start()
        // Scripts and tests wait for this line to learn the port.
        print("authd listening on \(configuration.rpc.host):\(server.localPort ?? configuration.rpc.port)")
        fflush(nil)
        if configuration.management.enabled {
            // Known once the service group below has started it.
            let managementHost = configuration.management.host
            Task {
                if let bound = await server.managementPort() {
                    print("authd management listening on \(managementHost):\(bound)")
                    fflush(nil)
                }
            }
        }

        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: server),
                    .init(service: TLSReloadService(server: server, hangups: hangups, logger: logger),
                          successTerminationBehavior: .ignore),
                ],
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

/// SIGHUP: the RPC port's certificate and key are read again; new connections get them,
/// open ones keep theirs. A file that cannot be used leaves the old certificate in place.
struct TLSReloadService: Service {
    let server: AuthdServer
    let hangups: UnixSignalsSequence
    let logger: Logger

    func run() async {
        for await _ in hangups.cancelOnGracefulShutdown() {
            do {
                if let served = try server.reloadTLS() {
                    logger.notice("SIGHUP: TLS certificate reloaded", metadata: ["certificate": "\(served)"])
                } else {
                    logger.info("SIGHUP: TLS is off, nothing to reload")
                }
            } catch {
                logger.error("SIGHUP: TLS reload failed, the previous certificate stays in use: \(error)")
            }
        }
    }
}
