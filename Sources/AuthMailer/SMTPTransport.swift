public import AuthClient
import CCurl

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Settings of the SMTP transport.
public struct SMTPConfiguration: Sendable {
    public enum StartTLS: String, Sendable, CaseIterable {
        /// Refuse to send unless the server upgrades the connection.
        case required
        /// Upgrade when the server offers STARTTLS, else send in clear text.
        case optional
        /// Never upgrade.
        case off
    }

    /// `smtp://host:port` (STARTTLS as `startTLS` says) or `smtps://host:port` (implicit TLS).
    public var url: String
    public var startTLS: StartTLS
    public var username: String?
    public var password: String?
    /// Limit on one message's whole exchange (connect included).
    public var timeout: Duration
    /// PEM bundle of the CAs to trust instead of the system's.
    public var caFile: String?
    /// Skip certificate and host name checks (tests with a self-signed certificate only).
    public var insecure: Bool

    public init(
        url: String = "smtp://127.0.0.1:25",
        startTLS: StartTLS = .required,
        username: String? = nil,
        password: String? = nil,
        timeout: Duration = .seconds(30),
        caFile: String? = nil,
        insecure: Bool = false
    ) {
        self.url = url
        self.startTLS = startTLS
        self.username = username
        self.password = password
        self.timeout = timeout
        self.caFile = caFile
        self.insecure = insecure
    }
}

/// Sends through an SMTP server with libcurl: STARTTLS or implicit TLS, AUTH (libcurl
/// picks PLAIN or LOGIN from what the server offers), timeouts. One easy handle lives as
/// long as the transport, so libcurl keeps the connection open between messages. Every
/// libcurl call runs on the transport's own dispatch queue.
///
/// A 5xx reply is permanent; a 4xx reply, a connection failure or a timeout is transient.
/// Failed logins and TLS set-up failures are transient too: they are the configuration's
/// fault, not the message's, and must not kill the queue.
public final class SMTPTransport: MailTransport, @unchecked Sendable {
    // The handle and buffers are only touched on `io`.
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let io = BlockingQueue()
    private let clock: @Sendable () -> Int64
    public let configuration: SMTPConfiguration

    private static let globalInit: CURLcode = authd_curl_global_init()

    public init(configuration: SMTPConfiguration, clock: @escaping @Sendable () -> Int64 = UnixClock.now) throws(DeliveryFailure) {
        guard Self.globalInit == CURLE_OK, let handle = curl_easy_init() else {
            throw DeliveryFailure(permanent: false, reason: "libcurl failed to initialise")
        }
        let lower = configuration.url.lowercased()
        guard lower.hasPrefix("smtp://") || lower.hasPrefix("smtps://") else {
            curl_easy_cleanup(handle)
            throw DeliveryFailure(permanent: false, reason: "SMTP URL '\(configuration.url)' must start with smtp:// or smtps://")
        }
        self.handle = handle
        self.configuration = configuration
        self.clock = clock
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        var failures: [String] = []
        func check(_ code: CURLcode, _ what: String) {
            if code != CURLE_OK { failures.append("\(what): \(String(cString: curl_easy_strerror(code)))") }
        }
        let timeoutMs = Int(configuration.timeout.components.seconds * 1000
            + configuration.timeout.components.attoseconds / 1_000_000_000_000_000)
        check(authd_curl_setopt_string(handle, CURLOPT_URL, configuration.url), "URL")
        check(authd_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        check(authd_curl_setopt_long(handle, CURLOPT_UPLOAD, 1), "UPLOAD")
        check(authd_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeoutMs), "TIMEOUT_MS")
        check(authd_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMs), "CONNECTTIMEOUT_MS")
        check(authd_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, errorBuffer), "ERRORBUFFER")
        let useSSL: curl_usessl = switch configuration.startTLS {
        case .required: CURLUSESSL_ALL
        case .optional: CURLUSESSL_TRY
        case .off: CURLUSESSL_NONE
        }
        if !lower.hasPrefix("smtps://") {
            check(authd_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(useSSL.rawValue)), "USE_SSL")
        }
        if let username = configuration.username {
            check(authd_curl_setopt_string(handle, CURLOPT_USERNAME, username), "USERNAME")
            check(authd_curl_setopt_string(handle, CURLOPT_PASSWORD, configuration.password ?? ""), "PASSWORD")
        }
        if let caFile = configuration.caFile {
            check(authd_curl_setopt_string(handle, CURLOPT_CAINFO, caFile), "CAINFO")
        }
        if configuration.insecure {
            check(authd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYPEER, 0), "SSL_VERIFYPEER")
            check(authd_curl_setopt_long(handle, CURLOPT_SSL_VERIFYHOST, 0), "SSL_VERIFYHOST")
        }
        check(authd_curl_setopt_read_function(handle, smtpReadCallback), "READFUNCTION")
        if !failures.isEmpty {
            curl_easy_cleanup(handle)
            errorBuffer.deallocate()
            throw DeliveryFailure(permanent: false, reason: "libcurl refused an option: \(failures.joined(separator: "; "))")
        }
    }

    deinit {
        curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    public func send(_ message: AuthV1.OutboxMessage) async throws(DeliveryFailure) {
        let email = try EmailMessage(message, date: clock())
        let failure: DeliveryFailure? = await io.run { [self] in perform(email) }
        if let failure { throw failure }
    }

    /// One SMTP transaction on the (possibly reused) connection. Runs on `io` only.
    private func perform(_ email: EmailMessage) -> DeliveryFailure? {
        let source = ReadSource(email.bytes)
        let recipients = curl_slist_append(nil, "<\(email.envelopeTo)>")
        defer { curl_slist_free_all(recipients) }
        errorBuffer[0] = 0
        _ = authd_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(email.envelopeFrom)>")
        _ = authd_curl_setopt_pointer(handle, CURLOPT_MAIL_RCPT, UnsafeMutableRawPointer(recipients))
        _ = authd_curl_setopt_long(handle, CURLOPT_INFILESIZE, email.bytes.count)
        let code = withExtendedLifetime(source) {
            _ = authd_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
            return curl_easy_perform(handle)
        }
        _ = authd_curl_setopt_pointer(handle, CURLOPT_READDATA, nil)
        if code == CURLE_OK { return nil }

        var reply: Int = 0
        _ = authd_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &reply)
        let detail = String(cString: errorBuffer)
        let summary = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let configurationFault = code == CURLE_LOGIN_DENIED || code == CURLE_USE_SSL_FAILED
        let permanent = (500..<600).contains(reply) && !configurationFault
        let replyText = (400..<600).contains(reply) ? "SMTP \(reply): " : ""
        return DeliveryFailure(permanent: permanent, reason: "\(replyText)\(summary) (curl \(code.rawValue))")
    }
}

/// The message bytes libcurl reads through `smtpReadCallback`.
private final class ReadSource {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }
}

private func smtpReadCallback(_ buffer: UnsafeMutablePointer<CChar>?, _ size: Int, _ count: Int, _ userdata: UnsafeMutableRawPointer?) -> Int {
    guard let buffer, let userdata else { return 0 }
    let source = Unmanaged<ReadSource>.fromOpaque(userdata).takeUnretainedValue()
    let n = min(size * count, source.bytes.count - source.offset)
    guard n > 0 else { return 0 }
    source.bytes.withUnsafeBytes { bytes in
        UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + source.offset, byteCount: n)
    }
    source.offset += n
    return n
}
