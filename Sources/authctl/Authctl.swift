import ArgumentParser
import AuthClient
import AuthdVersion

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The operator's CLI over the Admin service. See docs/authctl.md.
@main
struct Authctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "authctl",
        abstract: "Manage an authd server: users, roles, groups, page rules, settings, email templates, API keys and the outbox.",
        discussion: """
            Every command takes --address (env AUTHD_ADDRESS, default 127.0.0.1:7400), \
            --key (env AUTHD_ADMIN_KEY) or --key-file (env AUTHD_ADMIN_KEY_FILE), --json and --timeout, \
            before or after the command: authctl --key-file F users list, or authctl users list --key-file F.

            Exit codes: 0 success, 64 usage error, 65 the server refused the data, \
            66 not found, 69 server unreachable or unavailable, 75 throttled, \
            77 no or wrong key, 70 anything else.
            """,
        version: AuthdVersion.description,
        subcommands: [
            Users.self, Roles.self, Groups.self, Pages.self, SettingsCommand.self, Templates.self, Keys.self,
            MailCommand.self, RemoveEverything.self,
        ]
    )

    /// Parses with the common options moved after the command they precede (see
    /// `GlobalOptionPlacement`), and lets a closed standard output end the program quietly.
    static func main() async {
        // A reader that stops early (`authctl users export | head`) closes the pipe: writes
        // then fail with EPIPE, which the commands treat as a quiet end, instead of the
        // signal killing the process.
        signal(SIGPIPE, SIG_IGN)
        let arguments = GlobalOptionPlacement.reordered(Array(CommandLine.arguments.dropFirst()), root: Self.self)
        await main(arguments)
    }
}

/// Exit codes scripts can trust (sysexits.h values).
enum Exit {
    static let usage: Int32 = 64
    static let dataError: Int32 = 65
    static let notFound: Int32 = 66
    static let unavailable: Int32 = 69
    static let software: Int32 = 70
    static let throttled: Int32 = 75
    static let noPermission: Int32 = 77

    static func code(for code: AuthV1.Code) -> Int32 {
        switch code {
        case .invalidArgument, .alreadyExists, .failedPrecondition, .outOfRange: dataError
        case .notFound: notFound
        case .unavailable, .deadlineExceeded: unavailable
        case .resourceExhausted: throttled
        case .unauthenticated, .permissionDenied: noPermission
        default: software
        }
    }
}

/// The options every command takes.
struct GlobalOptions: ParsableArguments {
    static let defaultAddress = "127.0.0.1:7400"

    @Option(help: ArgumentHelp(
        "Server address (env AUTHD_ADDRESS; default \(GlobalOptions.defaultAddress)).",
        valueName: "host:port"))
    var address: String?

    @Option(help: ArgumentHelp(
        "Admin API key (env AUTHD_ADMIN_KEY). Prefer --key-file: arguments are visible to other local users.",
        valueName: "key"))
    var key: String?

    @Option(help: ArgumentHelp(
        "File holding the admin API key (env AUTHD_ADMIN_KEY_FILE).",
        valueName: "path"))
    var keyFile: String?

    @Flag(help: "Print one JSON document on stdout instead of text for people.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for each call.", valueName: "seconds"))
    var timeout: Double = 10

    @Option(help: ArgumentHelp(
        "PEM CAs that sign authd's certificate; any --tls-* option turns TLS on (env AUTHD_TLS_CA).",
        valueName: "path"))
    var tlsCa: String?

    @Option(help: ArgumentHelp(
        "PEM client certificate, for an authd that asks for one (env AUTHD_TLS_CERT).", valueName: "path"))
    var tlsCert: String?

    @Option(help: ArgumentHelp("PEM private key of the client certificate (env AUTHD_TLS_KEY).", valueName: "path"))
    var tlsKey: String?

    @Option(help: ArgumentHelp(
        "The name authd's certificate must carry (env AUTHD_TLS_SERVER_NAME; default: the address's host).",
        valueName: "name"))
    var tlsServerName: String?

    func validate() throws {
        guard timeout.isFinite, timeout > 0 else {
            throw ValidationError("--timeout must be a positive number of seconds")
        }
        if key != nil, keyFile != nil {
            throw ValidationError("give --key or --key-file, not both")
        }
        _ = try endpoint()
        let tls = tlsConfiguration
        if (tls?.certificateChainFile == nil) != (tls?.privateKeyFile == nil) {
            throw ValidationError("give --tls-cert and --tls-key together (or AUTHD_TLS_CERT and AUTHD_TLS_KEY)")
        }
    }

    /// TLS from the --tls-* options, each falling back to its AUTHD_TLS_* variable; nil
    /// (plaintext) when none is given.
    var tlsConfiguration: ClientTLSConfiguration? {
        let ca = tlsCa ?? environment("AUTHD_TLS_CA")
        let cert = tlsCert ?? environment("AUTHD_TLS_CERT")
        let key = tlsKey ?? environment("AUTHD_TLS_KEY")
        let name = tlsServerName ?? environment("AUTHD_TLS_SERVER_NAME")
        guard ca != nil || cert != nil || key != nil || name != nil else { return nil }
        return ClientTLSConfiguration(trustRootsFile: ca, certificateChainFile: cert, privateKeyFile: key, serverName: name)
    }

    /// Host and port from --address, AUTHD_ADDRESS or the default. "[::1]:7400" for IPv6.
    func endpoint() throws -> (host: String, port: Int) {
        let text = address ?? environment("AUTHD_ADDRESS") ?? Self.defaultAddress
        guard let colon = text.lastIndex(of: ":") else {
            throw ValidationError("address '\(text)' is not HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("address '\(text)' is not HOST:PORT with a port from 1 to 65535")
        }
        return (host, port)
    }

    /// The key from --key, --key-file, AUTHD_ADMIN_KEY or AUTHD_ADMIN_KEY_FILE, in that order.
    func resolveKey() throws(RPCError) -> String {
        func fromFile(_ path: String, source: String) throws(RPCError) -> String {
            guard let contents = readTextFile(path) else {
                throw RPCError(code: .unauthenticated, message: "cannot read the key file \(path) (\(source))")
            }
            let trimmed = contents.trimmingWhitespace
            guard !trimmed.isEmpty else {
                throw RPCError(code: .unauthenticated, message: "the key file \(path) (\(source)) is empty")
            }
            return trimmed
        }
        if let key {
            let trimmed = key.trimmingWhitespace
            guard !trimmed.isEmpty else { throw RPCError(code: .unauthenticated, message: "--key is empty") }
            return trimmed
        }
        if let keyFile { return try fromFile(keyFile, source: "--key-file") }
        if let key = environment("AUTHD_ADMIN_KEY"), !key.trimmingWhitespace.isEmpty {
            return key.trimmingWhitespace
        }
        if let path = environment("AUTHD_ADMIN_KEY_FILE") {
            return try fromFile(path, source: "AUTHD_ADMIN_KEY_FILE")
        }
        throw RPCError(
            code: .unauthenticated,
            message: "no admin key: pass --key or --key-file, or set AUTHD_ADMIN_KEY or AUTHD_ADMIN_KEY_FILE")
    }

    /// Runs `body` against the Admin service. An RPCError (from the server or found
    /// locally, such as a missing key) is printed and becomes the documented exit code.
    func withAdmin<T>(_ body: (AdminService.Client) async throws -> T) async throws -> T {
        let client: AuthdClient
        do {
            let key = try resolveKey()
            let (host, port) = try endpoint()
            let wait = Duration.milliseconds(Int64((timeout * 1000).rounded(.up)))
            client = AuthdClient(
                host: host, port: port,
                configuration: ClientConfiguration(
                    defaultTimeout: wait,
                    metadata: ["authorization": "Bearer \(key)"],
                    connectTimeout: wait,
                    tls: tlsConfiguration))
        } catch let error as RPCError {
            throw fail(error)
        }
        do {
            let result = try await body(client.admin)
            await client.close()
            return result
        } catch let error as RPCError {
            await client.close()
            throw fail(error)
        } catch {
            await client.close()
            throw error
        }
    }

    /// Reports `error` on stderr (and as JSON on stdout with --json); returns the exit to throw.
    func fail(_ error: RPCError) -> ExitCode {
        printError("authctl: \(error.code): \(error.message)")
        for violation in error.fieldViolations {
            printError("  \(violation.field): \(violation.description)")
        }
        if let retry = error.retryAfterMilliseconds {
            printError("  retry after \(retry) ms")
        }
        if json {
            var members: [(String, JSON)] = [
                ("code", .string(error.code.description)),
                ("message", .string(error.message)),
                ("field_violations", .array(error.fieldViolations.map {
                    .object([("field", .string($0.field)), ("description", .string($0.description))])
                })),
            ]
            if let retry = error.retryAfterMilliseconds {
                members.append(("retry_after_ms", .uint(UInt64(retry))))
            }
            print(JSON.object([("error", .object(members))]).rendered)
        }
        return ExitCode(Exit.code(for: error.code))
    }

    /// Prints the JSON document with --json, the text for people otherwise.
    func emit(json document: @autoclosure () -> JSON, text: @autoclosure () -> String) {
        if json {
            print(document().rendered)
        } else {
            let text = text()
            if !text.isEmpty { print(text) }
        }
    }
}

func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    let string = String(cString: value)
    return string.isEmpty ? nil : string
}

func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        bytes.append(contentsOf: buffer[0..<count])
        if count < buffer.count { break }
    }
    if ferror(file) != 0 { return nil }
    return String(decoding: bytes, as: UTF8.self)
}

extension String {
    var trimmingWhitespace: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}

/// `KEY=VALUE` arguments (split at the first "=") into a map.
func parseAssignments(_ values: [String], option: String) throws -> [String: String] {
    var result: [String: String] = [:]
    for value in values {
        guard let equals = value.firstIndex(of: "="), equals != value.startIndex else {
            throw ValidationError("\(option) '\(value)' is not KEY=VALUE")
        }
        result[String(value[..<equals])] = String(value[value.index(after: equals)...])
    }
    return result
}

/// A password argument; "-" reads one line from standard input instead.
func resolvePassword(_ value: String) throws -> String {
    guard value == "-" else { return value }
    guard let line = readLine(strippingNewline: true) else {
        throw ValidationError("--password -: nothing on standard input")
    }
    return line
}
