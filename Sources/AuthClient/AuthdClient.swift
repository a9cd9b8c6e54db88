@_exported public import AuthAPI
@_exported public import AuthRPC
@_exported public import AuthWire

/// A client of one authd server: typed access to every service over one multiplexed
/// connection, with reconnect on the next call after the connection is lost.
///
/// ```swift
/// let client = AuthdClient(host: "127.0.0.1", port: 7400)
/// let health = try await client.health.check(AuthV1.HealthCheckRequest())
/// ```
public struct AuthdClient: Sendable {
    public let connection: RPCClient

    public init(host: String, port: Int, configuration: ClientConfiguration = .defaults) {
        self.connection = RPCClient(host: host, port: port, configuration: configuration)
    }

    /// End-user flows: sign-up, login, sessions, password reset, page gating.
    public var auth: AuthService.Client { AuthService.Client(caller: connection) }
    /// Operators' calls; needs an admin-scope key in `ClientConfiguration.metadata`.
    public var admin: AdminService.Client { AdminService.Client(caller: connection) }
    /// The mailer worker's calls; needs a mailer-scope key.
    public var mail: MailService.Client { MailService.Client(caller: connection) }
    public var health: HealthService.Client { HealthService.Client(caller: connection) }

    public func close() async {
        await connection.close()
    }
}
