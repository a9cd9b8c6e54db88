internal import AuthCore
internal import Foundation
internal import Logging
internal import NIOSSL
internal import PostgresNIO

/// A `postgres://user:password@host:port/database?sslmode=…` URL, read once at start.
/// `sslmode` is `disable`, `prefer` (the default, as libpq's: TLS when the server offers
/// it, its certificate not verified) or `require` (TLS, the server's certificate verified
/// against the system's trust roots, or against `sslrootcert=FILE` when given).
struct PostgresAddress: CustomStringConvertible {
    enum TLSMode: String {
        case disable, prefer, require
    }

    var host: String
    var port: Int
    var username: String
    var password: String?
    var database: String
    var tlsMode: TLSMode
    var rootCertificateFile: String?

    init(url: String) throws(AuthError) {
        func invalid(_ why: String) -> AuthError {
            AuthError.invalidArgument("store \(Self.redacted(url)): \(why)", field: "store")
        }
        guard let components = URLComponents(string: url),
              components.scheme == "postgres" || components.scheme == "postgresql"
        else {
            throw invalid("not a postgres:// URL")
        }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        guard let username = components.user, !username.isEmpty else { throw invalid("no user name") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else { throw invalid("no database name after the host") }
        self.host = host
        port = components.port ?? 5432
        self.username = username.removingPercentEncoding ?? username
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        tlsMode = .prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw invalid("sslmode must be disable, prefer or require")
                }
                tlsMode = mode
            case "sslrootcert":
                guard let file = item.value, !file.isEmpty else { throw invalid("sslrootcert needs a file") }
                rootCertificateFile = file
            default:
                throw invalid("unknown parameter \(item.name) (known: sslmode, sslrootcert)")
            }
        }
    }

    /// The URL without its password.
    var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)"
    }

    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(not a URL)" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "(not a URL)"
    }

    /// TLS as the URL asks for it; nil for `disable`. `prefer` is libpq's: encryption
    /// when the server offers it, its certificate not checked (a stock server's is
    /// self-signed); `require` checks it.
    private var tlsConfiguration: TLSConfiguration? {
        guard tlsMode != .disable else { return nil }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if tlsMode == .prefer {
            configuration.certificateVerification = .none
        } else if let rootCertificateFile {
            configuration.trustRoots = .file(rootCertificateFile)
        }
        return configuration
    }

    /// The TLS setting in the pool's or in one connection's terms.
    private func tls<TLS>(
        disable: TLS, prefer: (TLSConfiguration) throws -> TLS, require: (TLSConfiguration) throws -> TLS
    ) rethrows -> TLS {
        switch (tlsMode, tlsConfiguration) {
        case (.prefer, let configuration?): try prefer(configuration)
        case (.require, let configuration?): try require(configuration)
        default: disable
        }
    }

    func clientConfiguration() -> PostgresClient.Configuration {
        PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: tls(disable: .disable, prefer: { .prefer($0) }, require: { .require($0) }))
    }

    /// Opens one connection (TLS and login included) and closes it: `.unavailable` saying
    /// what failed when the server cannot be reached, refuses the login or has no such
    /// database.
    func checkConnection(timeout: Duration, logger: Logger) async throws(AuthError) {
        do {
            var configuration = PostgresConnection.Configuration(
                host: host, port: port, username: username, password: password, database: database,
                tls: try tls(
                    disable: .disable,
                    prefer: { .prefer(try NIOSSLContext(configuration: $0)) },
                    require: { .require(try NIOSSLContext(configuration: $0)) }))
            configuration.options.connectTimeout = TimeAmount(timeout)
            let clock = ContinuousClock()
            let deadline = clock.now + timeout
            var pause = Duration.milliseconds(50)
            while true {
                do {
                    let connection = try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
                    try? await connection.close()
                    return
                } catch let error as PSQLError where Self.isPassing(error) && clock.now + pause < deadline {
                    // Full, or still starting: what the pool would wait out too.
                    try await Task.sleep(for: pause)
                    pause = min(pause * 2, .milliseconds(500))
                }
            }
        } catch let error as PSQLError {
            let cause: String
            if error.code == .server {
                cause = (error.serverInfo?[.message] ?? "refused") + " (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))"
            } else {
                cause = error.underlying.map { "\($0)" } ?? "\(error.code)"
            }
            throw AuthError(.unavailable, "cannot use the database at \(description): \(cause)")
        } catch {
            throw AuthError(.unavailable, "cannot use the database at \(description): \(error)")
        }
    }

    /// 53300 too_many_connections, 57P03 cannot_connect_now (starting up or recovering).
    private static func isPassing(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "53300" || state == "57P03"
    }
}
