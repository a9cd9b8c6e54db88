/// Where the management HTTP port listens: `/healthz`, `/readyz` and `/metrics`.
///
/// Off by default: a port nobody asked for is one more thing to firewall, and two authd on
/// one host would fight over a fixed one. Turned on, it listens on loopback unless told
/// otherwise: it shows the server's load and state (no account data) to whoever reaches
/// it, so expose it further (a private address, behind a firewall) on purpose.
/// docs/operations.md, "Management port".
public struct ManagementConfiguration: Sendable {
    /// Off: no management port, and metrics are not recorded at all.
    public var enabled: Bool
    /// Loopback by default.
    public var host: String
    /// 0 picks a free port; `ManagementServer.localPort()` tells which.
    public var port: Int
    /// How long `/readyz` waits for its checks before it reports the slow ones as failed.
    public var readinessTimeout: Duration

    public init(
        enabled: Bool = false,
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
