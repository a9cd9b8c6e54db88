import AuthConfig
import AuthCore
import AuthCrypto
import AuthRPC
import AuthServer
import AuthWire
import AuthLogging
import AuthManagement
import Logging

/// What authd is configured with: the server's configuration and what only the executable
/// uses. Every default is the configuration structs' own (`AuthdServer.Configuration.defaults`
/// and the policies in it); this file says only which keys exist and what they allow.
struct AuthdSettings {
    var server = AuthdServer.Configuration.defaults
    var logLevel = Logger.Level.info
    var logFormat = LogFormat.text
    /// nil: `AuthdServer.Configuration.firstAdminKeyFile(for:)` of the database.
    var adminKeyFile: String?
    /// ScryptParameters checks the three together, so they are kept apart until then.
    var scrypt = ScryptDraft(ScryptParameters.owasp)
    var tls = TLSDraft()

    struct ScryptDraft {
        var logN: Int
        var r: Int
        var p: Int
        init(_ parameters: ScryptParameters) {
            (logN, r, p) = (parameters.logN, parameters.r, parameters.p)
        }
    }

    /// The TLS keys as given; `tlsConfiguration` makes them one value or says what is missing.
    struct TLSDraft {
        var certFile: String?
        var keyFile: String?
        var clientCaFile: String?
        var clientAuth = ServerTLSConfiguration.ClientAuthentication.off
    }

    /// The server's configuration with the keys that are checked together applied.
    func serverConfiguration() throws(ConfigurationError) -> AuthdServer.Configuration {
        var server = self.server
        server.firstAdminKeyFile = adminKeyFile
            ?? (server.postgresURL == nil ? AuthdServer.Configuration.firstAdminKeyFile(for: server.databasePath) : "authd.admin-key")
        do {
            server.scrypt = try ScryptParameters(logN: scrypt.logN, r: scrypt.r, p: scrypt.p)
        } catch {
            throw ConfigurationError("scrypt.logN, scrypt.r and scrypt.p: \(error.message)")
        }
        server.rpc.tls = tlsConfiguration
        return server
    }

    var tlsConfiguration: ServerTLSConfiguration? {
        guard let certFile = tls.certFile, let keyFile = tls.keyFile else { return nil }
        return ServerTLSConfiguration(
            certificateChainFile: certFile, privateKeyFile: keyFile,
            clientCAFile: tls.clientCaFile, clientAuthentication: tls.clientAuth)
    }
}

extension Logger.Level {
    /// The levels in order, as `logLevel` accepts them.
    static var names: [String] { allCases.map(\.rawValue) }
}

/// The schema: every key authd reads, in the sections `--help` and the docs show.
///
/// To add a key: give its value a home with a default in a configuration struct (a new
/// field of `AuthdServer.Configuration` or of a struct in it, or of `AuthdSettings` for
/// what only the executable uses), then add one `S.integer` / `S.duration` / `S.text` /
/// `S.optionalText` / `S.boolean` / `S.choice` line naming the dotted key, the key path,
/// the allowed range and a help line, to a section below or to a new section appended
/// to `sections` (a rule between keys goes in `checks`). The flag, the `AUTHD_*`
/// variable, the file key, `--help`, `--print-config` and `--config-reference` follow;
/// then run `tools/config-reference.sh` to rewrite the docs' tables
/// (`test_configuration.py` fails until then).
extension AuthdSettings {
    static let day = Duration.seconds(86_400)

    static var schema: SettingsSchema<AuthdSettings> {
        SettingsSchema(
            program: "authd",
            environmentPrefix: "AUTHD",
            defaults: AuthdSettings(),
            sections: [server, tlsSection, connections, passwords, sessions, throttles, mail, retention],
            checks: checks
        )
    }

    private typealias S = Setting<AuthdSettings>

    private static var server: SettingsSchema<AuthdSettings>.Section {
        .init("Server", [
            S.text("host", \.server.rpc.host, help: "Address the RPC port listens on."),
            S.integer("port", \.server.rpc.port, 0...65535, help: "The RPC port; 0 picks a free one (authd prints it)."),
            S.text("database", \.server.databasePath, help: "The SQLite database file; created with its schema when missing."),
            S.optionalText("store", \.server.postgresURL,
                           help: "A postgres://user:password@host:port/db URL (?sslmode=disable|prefer|require, &sslrootcert=FILE): keep everything in that PostgreSQL database instead of the SQLite file, so that several authd can serve one user base.",
                           isSecret: true, defaultDescription: "none: the SQLite file of database"),
            S.integer("storeConnections", \.server.postgresConnections, 2...1000,
                      help: "Connections to the PostgreSQL store this instance opens at most (one listens for the others' changes): size max_connections by it."),
            S.optionalText("adminKeyFile", \.adminKeyFile,
                           help: "Where a first start on an empty database writes the first admin key.",
                           defaultDescription: "<database>.admin-key; authd.admin-key with a postgres store"),
            S.boolean("requireServiceKey", \.server.requireServiceKey, help: "Require a service-scope API key on Auth calls too."),
            S(
                "logLevel", kind: .choice(Logger.Level.names), help: "The least severe log level written.",
                get: { .text($0.logLevel.rawValue) },
                set: { root, value in if let name = value.string, let level = Logger.Level(rawValue: name) { root.logLevel = level } }
            ),
            S(
                "logFormat", kind: .choice(LogFormat.allCases.map(\.rawValue)),
                help: "Log line format: text (for people) or json (one object a line: time, level, label, message, metadata).",
                get: { .text($0.logFormat.rawValue) },
                set: { root, value in if let name = value.string, let format = LogFormat(rawValue: name) { root.logFormat = format } }
            ),
            S(
                "management.port", kind: .integer(0...65535),
                help: "Serve /healthz, /readyz and /metrics over HTTP on this port (0 picks a free one); off when not given, and then no metric is recorded.",
                defaultDescription: "off",
                get: { $0.server.management.enabled ? .integer($0.server.management.port) : nil },
                set: { root, value in
                    if let port = value.integer { root.server.management.enabled = true; root.server.management.port = port }
                }
            ),
            S.text("management.host", \.server.management.host, help: "Address the management port listens on."),
            S.text("mailFrom", \.server.identity.mailFrom, help: "Sender of emails until the settings name one (Admin.SetSettings)."),
            S.text("appName", \.server.identity.appName, help: "The app's name in emails until the settings name one."),
        ])
    }

    private static var tlsSection: SettingsSchema<AuthdSettings>.Section {
        .init("TLS on the RPC port (SIGHUP reads the files again)", [
            S.optionalText("tls.certFile", \.tls.certFile,
                           help: "PEM certificate chain, the server's first; with tls.keyFile turns TLS on (1.2 and later).",
                           defaultDescription: "unset: plaintext"),
            S.optionalText("tls.keyFile", \.tls.keyFile, help: "PEM private key of that certificate.", defaultDescription: "unset"),
            S.optionalText("tls.clientCaFile", \.tls.clientCaFile,
                           help: "PEM CAs that sign client certificates (mTLS).", defaultDescription: "unset"),
            S.choice("tls.clientAuth", \.tls.clientAuth,
                     help: "Client certificates: off, optional (checked when given) or required (refused without)."),
        ])
    }

    private static var connections: SettingsSchema<AuthdSettings>.Section {
        .init("Connections and frames", [
            S.integer("maxFrameBytes", \.server.rpc.maximumFrameBytes, 64...(1 << 30), help: "Largest frame accepted, in bytes."),
            S.integer("maxInFlight", \.server.rpc.maximumCallsInFlight, 1...65_536, help: "Calls one connection may have in flight."),
            S.duration("idleTimeout", \.server.rpc.idleTimeout, .milliseconds(100)...day,
                       help: "Close a connection with no call in flight that completes no frame for this long."),
            S.integer("maxConnections", \.server.rpc.maximumConnections, 1...1_000_000, help: "Connections served at once."),
            S.integer("maxConnectionsPerPeer", \.server.rpc.maximumConnectionsPerPeer, 1...1_000_000,
                      help: "Connections served at once from one peer IP address."),
            S.integer("maxBufferedBytesPerConnection", \.server.rpc.maximumBufferedBytesPerConnection, 68...(1 << 40),
                      help: "Bytes one connection may hold read but not answered before its reads pause (at least maxFrameBytes + 4)."),
            S.integer("maxBufferedBytes", \.server.rpc.maximumBufferedBytes, 68...(1 << 40),
                      help: "Bytes all connections together may hold read but not answered before reads pause."),
            S.integer("maxMetadataEntries", \.server.rpc.envelopeLimits.maximumElements, 1...65_536,
                      help: "Metadata entries a frame may carry."),
            S.integer("maxRepeatedElements", \.server.rpc.requestLimits.maximumElements, 1...(1 << 24),
                      help: "Elements a repeated or map field of a request may hold."),
            S.integer("maxRequestFields", \.server.rpc.requestLimits.maximumFields, 1...(1 << 26),
                      help: "Fields a request may hold in all, nested ones and repeated elements included."),
            S.duration("shutdownGracePeriod", \.server.rpc.shutdownGracePeriod, .zero...(.seconds(3600)),
                       help: "On SIGTERM, how long calls in flight may take before connections are closed anyway."),
            S.integer("logLinesPerPeerPerSecond", \.server.rpc.logLinesPerPeerPerSecond, 1...10_000,
                      help: "Log lines about one peer's bad frames and refused connections per second; the rest are counted."),
        ])
    }

    private static var passwords: SettingsSchema<AuthdSettings>.Section {
        .init("Passwords and hashing", [
            S.integer("scrypt.logN", \.scrypt.logN, 1...24, help: "scrypt cost: N = 2^logN. OWASP's minimum is 17; older hashes upgrade at the next login."),
            S.integer("scrypt.r", \.scrypt.r, 1...64, help: "scrypt block size r."),
            S.integer("scrypt.p", \.scrypt.p, 1...64, help: "scrypt parallelism p."),
            S.integer("hashing.threads", \.server.hashingThreads, 1...1024,
                      help: "Threads hashing passwords; each keeps 128·r·2^logN bytes from its first hash on.",
                      defaultDescription: "one per core"),
            S.integer("hashing.maxWaiting", \.server.hashQueue.maximumWaiting, 1...1_000_000,
                      help: "Hashes that may wait for a thread; more are refused at once (RESOURCE_EXHAUSTED)."),
            S.integer("hashing.maxPerSource", \.server.hashQueue.maximumPerSource, 1...1_000_000,
                      help: "Hashes one end-user address may have waiting or running."),
            S.integer("password.minLength", \.server.identity.passwords.minimumLength, 6...64, help: "Shortest password accepted, in characters."),
            S.integer("password.maxLength", \.server.identity.passwords.maximumLength, 64...1024, help: "Longest password accepted, in characters."),
            S.integer("attributes.maxCount", \.server.identity.attributes.maximumCount, 1...1024, help: "Attributes one user may have."),
            S.integer("attributes.maxNameLength", \.server.identity.attributes.maximumNameLength, 1...256, help: "Longest attribute name."),
            S.integer("attributes.maxValueBytes", \.server.identity.attributes.maximumValueBytes, 1...65_536,
                      help: "Largest attribute value, in bytes of UTF-8."),
        ])
    }

    private static var sessions: SettingsSchema<AuthdSettings>.Section {
        .init("Sessions, codes and invitations", [
            S.duration("session.idleTimeout", \.server.identity.sessions.idleTimeout, .seconds(60)...(day * 365),
                       help: "A session unused this long ends."),
            S.duration("session.absoluteTimeout", \.server.identity.sessions.absoluteTimeout, .seconds(60)...(day * 365),
                       help: "A session ends this long after sign-in, used or not (at least session.idleTimeout)."),
            S.duration("session.touchInterval", \.server.identity.sessions.touchInterval, .seconds(1)...(.seconds(3600)),
                       help: "A session's use is written back at most this often (a token check is a read)."),
            S.integer("sessionCache.maxEntries", \.server.sessionCache.maximumEntries, 0...10_000_000,
                      help: "Sessions the token check keeps in memory (0: none; every check reads the database)."),
            S.integer("sessionCache.maxBytes", \.server.sessionCache.maximumBytes, 0...(1 << 34),
                      help: "Bytes those sessions may take, as counted (docs/decisions.md, The session cache)."),
            S.duration("sessionCache.maxAge", \.server.sessionCache.maximumAge, .zero...(.seconds(3600)),
                       help: "A cached session is read again after this long: the bound on staleness for another process's change."),
            S.integer("code.digits", \.server.identity.codes.digits, 6...12, help: "Digits of a password-reset code."),
            S.duration("code.validity", \.server.identity.codes.validity, .seconds(60)...(.seconds(900)), help: "How long a reset code stays valid."),
            S.integer("code.maxAttempts", \.server.identity.codes.maximumAttempts, 1...20,
                      help: "Wrong tries, counted per account, that void a reset code."),
            S.duration("invitation.validity", \.server.identity.invitationValidity, .seconds(3600)...(day * 90),
                       help: "How long an invitation stays valid."),
        ])
    }

    /// A back-off rule's four keys. The floors keep a throttle on: at least one free failure
    /// and at most `maximumFree`, a delay of at least a second, a window of at least a minute.
    private static func backoff(
        _ name: String, _ path: WritableKeyPath<AuthdSettings, BackoffRule>, _ what: String, maximumFree: Int
    ) -> [S] {
        [
            S.integer("throttle.\(name).freeFailures", path.appending(path: \.freeFailures), 1...maximumFree,
                      help: "Failed \(what) allowed before the back-off starts."),
            S.duration("throttle.\(name).baseDelay", path.appending(path: \.baseDelay), .seconds(1)...(.seconds(3600)),
                       help: "The first wait after them; each further failure doubles it."),
            S.duration("throttle.\(name).maxDelay", path.appending(path: \.maximumDelay), .seconds(1)...day,
                       help: "The longest wait."),
            S.duration("throttle.\(name).window", path.appending(path: \.window), .seconds(60)...day,
                       help: "Failures older than this are forgotten (at least maxDelay)."),
        ]
    }

    private static var throttles: SettingsSchema<AuthdSettings>.Section {
        let policy: WritableKeyPath<AuthdSettings, ThrottlePolicy> = \.server.identity.throttles
        return .init("Throttles (floors keep each one on)",
            backoff("loginPerAccount", policy.appending(path: \.loginPerAccount), "logins per email, known or not", maximumFree: 100)
            + backoff("loginPerAddress", policy.appending(path: \.loginPerAddress), "logins per end-user address", maximumFree: 10_000)
            + backoff("confirmPerAddress", policy.appending(path: \.confirmPerAddress), "code confirmations per end-user address", maximumFree: 10_000)
            + [
                S.integer("throttle.forgotPasswordPerEmailPerHour", policy.appending(path: \.forgotPasswordPerEmailPerHour), 1...100,
                          help: "Reset codes sent to one email per hour, known or not."),
                S.integer("throttle.forgotPasswordPerAddressPerHour", policy.appending(path: \.forgotPasswordPerAddressPerHour), 1...100_000,
                          help: "Reset codes requested from one end-user address per hour."),
                S.integer("throttle.signUpsPerAddressPerHour", policy.appending(path: \.signUpsPerAddressPerHour), 1...100_000,
                          help: "Sign-ups from one end-user address per hour."),
                S.integer("throttle.mailsPerMailboxPerHour", policy.appending(path: \.mailsPerMailboxPerHour), 1...1000,
                          help: "Emails of any kind to one mailbox per hour (a+1@x and a+2@x are one mailbox)."),
                S.integer("throttle.ipv6PrefixLength", policy.appending(path: \.ipv6PrefixLength), 16...64,
                          help: "IPv6 end-user addresses are counted by this many leading bits (a /64 is one home or host)."),
            ])
    }

    private static var mail: SettingsSchema<AuthdSettings>.Section {
        .init("Outbox", [
            S.integer("mail.maxAttempts", \.server.mail.maximumAttempts, 1...100, help: "Transient failures after which a message is dead."),
            S.duration("mail.retryBaseDelay", \.server.mail.baseRetryDelay, .milliseconds(10)...day,
                       help: "The first retry waits about this long, then twice as long each time, with jitter."),
            S.duration("mail.retryMaxDelay", \.server.mail.maximumRetryDelay, .milliseconds(10)...(day * 7), help: "The longest wait between retries."),
            S.duration("mail.defaultLease", \.server.mail.defaultLease, .seconds(1)...day, help: "A lease's length when the mailer names none."),
            S.duration("mail.maxLease", \.server.mail.maximumLease, .seconds(1)...day, help: "The longest lease a mailer may ask for."),
            S.integer("mail.defaultBatchSize", \.server.mail.defaultBatchSize, 1...10_000, help: "Messages leased when the mailer names no number."),
            S.integer("mail.maxBatchSize", \.server.mail.maximumBatchSize, 1...10_000, help: "The most messages one lease may take."),
            S.duration("mail.sentRetention", \.server.mail.sentRetention, .seconds(60)...(day * 365), help: "Sent messages are deleted this long after sending."),
        ])
    }

    private static var retention: SettingsSchema<AuthdSettings>.Section {
        .init("Pruning", [
            S.duration("retention.endedSessions", \.server.retention.endedSessions, .zero...(day * 365),
                       help: "Ended sessions are kept this long (for the operator's eyes)."),
            S.duration("retention.finishedCodes", \.server.retention.finishedCodes, .zero...(day * 365),
                       help: "Used, voided or expired codes and invitations are kept this long."),
            S.duration("retention.idleThrottles", \.server.retention.idleThrottles, day...(day * 365),
                       help: "Throttle counters are kept this long after their last failure (at least every throttle window)."),
            S.duration("retention.interval", \.server.retention.interval, .seconds(60)...day, help: "How often the pruner runs."),
        ])
    }

    private static var checks: [SettingsSchema<AuthdSettings>.Check] {
        [
            { settings in
                guard let url = settings.server.postgresURL else { return nil }
                return AuthdServer.Configuration.problem(withPostgresURL: url).map { CrossKeyProblem(keys: ["store"], $0) }
            },
            { settings in
                settings.server.rpc.problem.map {
                    CrossKeyProblem(keys: ["maxBufferedBytesPerConnection", "maxBufferedBytes", "maxFrameBytes"], $0)
                }
            },
            { settings in
                let sessions = settings.server.identity.sessions
                return sessions.absoluteTimeout >= sessions.idleTimeout ? nil
                    : CrossKeyProblem(keys: ["session.absoluteTimeout", "session.idleTimeout"], "the absolute timeout must be at least the idle one")
            },
            { settings in
                let passwords = settings.server.identity.passwords
                return passwords.minimumLength <= passwords.maximumLength ? nil
                    : CrossKeyProblem(keys: ["password.minLength", "password.maxLength"], "the minimum must not exceed the maximum")
            },
            { settings in
                let mail = settings.server.mail
                if mail.baseRetryDelay > mail.maximumRetryDelay {
                    return CrossKeyProblem(keys: ["mail.retryBaseDelay", "mail.retryMaxDelay"], "the first retry cannot wait longer than the longest")
                }
                if mail.defaultLease > mail.maximumLease {
                    return CrossKeyProblem(keys: ["mail.defaultLease", "mail.maxLease"], "the default lease cannot exceed the longest")
                }
                if mail.defaultBatchSize > mail.maximumBatchSize {
                    return CrossKeyProblem(keys: ["mail.defaultBatchSize", "mail.maxBatchSize"], "the default batch cannot exceed the largest")
                }
                return nil
            },
            { settings in
                let throttles = settings.server.identity.throttles
                let rules = [
                    ("loginPerAccount", throttles.loginPerAccount), ("loginPerAddress", throttles.loginPerAddress),
                    ("confirmPerAddress", throttles.confirmPerAddress),
                ]
                for (name, rule) in rules {
                    if rule.baseDelay > rule.maximumDelay {
                        return CrossKeyProblem(keys: ["throttle.\(name).baseDelay", "throttle.\(name).maxDelay"], "the first wait cannot exceed the longest")
                    }
                    if rule.window < rule.maximumDelay {
                        return CrossKeyProblem(keys: ["throttle.\(name).window", "throttle.\(name).maxDelay"],
                                               "the window must be at least the longest wait, or the count is forgotten while it waits")
                    }
                    if settings.server.retention.idleThrottles < rule.window {
                        return CrossKeyProblem(keys: ["retention.idleThrottles", "throttle.\(name).window"],
                                               "throttle counters must be kept at least as long as their window")
                    }
                }
                return nil
            },
            { settings in
                let tls = settings.tls
                switch (tls.certFile, tls.keyFile) {
                case (nil, nil):
                    if tls.clientCaFile != nil || tls.clientAuth != .off {
                        return CrossKeyProblem(keys: ["tls.clientCaFile", "tls.clientAuth"], "client certificates need TLS: set tls.certFile and tls.keyFile")
                    }
                case (nil, _?), (_?, nil):
                    return CrossKeyProblem(keys: ["tls.certFile", "tls.keyFile"], "TLS needs both the certificate chain and its key")
                default:
                    break
                }
                if tls.clientAuth != .off, tls.clientCaFile == nil {
                    return CrossKeyProblem(keys: ["tls.clientAuth", "tls.clientCaFile"], "checking client certificates needs the CA file that signs them")
                }
                return nil
            },
        ]
    }
}
