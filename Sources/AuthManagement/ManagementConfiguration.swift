/// Where the management HTTP port listens: `/healthz`, `/readyz` and `/metrics`.
///
/// On loopback by default: it shows the server's load and state to whoever can reach it,
/// and says nothing a local operator or a scraper on the same host cannot be trusted with;
/// expose it further (a private address, behind a firewall) on purpose.
public struct ManagementConfiguration: Sendable {
    /// Off: no management port, and metrics are not recorded at all.
    public var enabled: Bool
    public var host: String
    /// 0 picks a free port; `ManagementServer.localPort()` tells which.
    public var port: Int
    /// How long `/readyz` waits for its checks before it reports the slow ones as failed.
    public var readinessTimeout: Duration

    public init(
        enabled: Bool = true,
        host: String = "127.0.0.1",
        port: Int = 9400,
        readinessTimeout: Duration = .seconds(2)
    ) {
        self.enabled = enabled
        self.host = host
        self.port = port
        self.readinessTimeout = readinessTimeout
    }

    public static var defaults: Self { Self() }
}
