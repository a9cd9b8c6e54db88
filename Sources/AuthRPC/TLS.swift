public import NIOSSL
import NIOCore
import Synchronization

/// TLS on the RPC port: a certificate chain and its private key from PEM files, and
/// optionally client certificates checked against a CA file (mTLS). TLS 1.2 and later only.
public struct ServerTLSConfiguration: Sendable, Hashable {
    /// Whether clients must present a certificate signed by `clientCAFile`.
    public enum ClientAuthentication: String, Sendable, CaseIterable {
        /// No client certificate is asked for.
        case off
        /// A certificate is asked for and checked when given; clients without one are served.
        case optional
        /// Clients without a certificate that `clientCAFile` signed are refused in the handshake.
        case required
    }

    /// PEM: the server's certificate first, then the intermediates.
    public var certificateChainFile: String
    /// PEM: the private key of the first certificate.
    public var privateKeyFile: String
    /// PEM: the CAs that sign client certificates; needed unless `clientAuthentication` is off.
    public var clientCAFile: String?
    public var clientAuthentication: ClientAuthentication

    public init(
        certificateChainFile: String,
        privateKeyFile: String,
        clientCAFile: String? = nil,
        clientAuthentication: ClientAuthentication = .off
    ) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.clientAuthentication = clientAuthentication
    }

    /// Reads the files and makes the context that handshakes use; throws a `TLSFileError`
    /// naming the file at fault.
    public func makeContext() throws(TLSFileError) -> NIOSSLContext {
        let chain = try TLSFileError.loading(certificateChainFile, "certificate chain") {
            let certificates = try NIOSSLCertificate.fromPEMFile(certificateChainFile)
            guard !certificates.isEmpty else { throw TLSFileError.Empty() }
            return certificates
        }
        let key = try TLSFileError.loading(privateKeyFile, "private key") {
            try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if clientAuthentication != .off {
            guard let clientCAFile else {
                throw TLSFileError(file: "", what: "client CA", reason: "client authentication needs a CA file")
            }
            let roots = try TLSFileError.loading(clientCAFile, "client CA") {
                let certificates = try NIOSSLCertificate.fromPEMFile(clientCAFile)
                guard !certificates.isEmpty else { throw TLSFileError.Empty() }
                return certificates
            }
            tls.trustRoots = .certificates(roots)
            tls.sendCANameList = true
            // A server has no name to check a client's certificate against: the chain is verified.
            tls.certificateVerification = clientAuthentication == .required ? .noHostnameVerification : .optionalVerification
        }
        return try TLSFileError.loading(certificateChainFile, "certificate chain and private key") {
            try NIOSSLContext(configuration: tls)
        }
    }

    /// The leaf certificate of the chain file, for the log line that says which one is served.
    func leafCertificate() -> NIOSSLCertificate? {
        (try? NIOSSLCertificate.fromPEMFile(certificateChainFile))?.first
    }
}

/// A TLS file that cannot be used: which file, for what, and why.
public struct TLSFileError: Error, Sendable, CustomStringConvertible {
    public let file: String
    public let what: String
    public let reason: String

    struct Empty: Error, CustomStringConvertible {
        var description: String { "it holds no PEM certificate" }
    }

    public var description: String {
        file.isEmpty ? "\(what): \(reason)" : "cannot use \(file) as the \(what): \(reason)"
    }

    static func loading<T>(_ file: String, _ what: String, _ body: () throws -> T) throws(TLSFileError) -> T {
        do {
            return try body()
        } catch let error as TLSFileError {
            throw error
        } catch {
            throw TLSFileError(file: file, what: what, reason: "\(error)")
        }
    }
}

/// The context new connections handshake with. `reload()` reads the files again and swaps it
/// in; connections already open keep the context they began with, so none is dropped.
final class ServerTLSContext: Sendable {
    let configuration: ServerTLSConfiguration
    private let current: Mutex<NIOSSLContext>

    init(_ configuration: ServerTLSConfiguration) throws(TLSFileError) {
        self.configuration = configuration
        self.current = Mutex(try configuration.makeContext())
    }

    var context: NIOSSLContext { current.withLock { $0 } }

    /// On failure the old context stays in use and the error says why.
    func reload() throws(TLSFileError) {
        let fresh = try configuration.makeContext()
        current.withLock { $0 = fresh }
    }

    /// "serial 1f…, CN=authd, valid until 2027-…": which certificate is being served.
    var servedCertificate: String {
        guard let leaf = configuration.leafCertificate() else { return "?" }
        let serial = leaf.serialNumber.map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        return "serial \(serial), not valid after \(leaf.notValidAfter) (Unix time)"
    }
}

/// What a client trusts and presents: the CA file that signs the server's certificate (or
/// the system's roots), optionally a client certificate and key for mTLS, and the name the
/// server's certificate must carry (by default the host connected to; an IP address is
/// checked against the certificate's IP addresses).
public struct ClientTLSConfiguration: Sendable, Hashable {
    /// PEM CAs; nil trusts the system's roots.
    public var trustRootsFile: String?
    /// PEM: the client's certificate chain, for a server that asks for one.
    public var certificateChainFile: String?
    /// PEM: its private key.
    public var privateKeyFile: String?
    /// The name to check the server's certificate against and to send as SNI; nil: the host.
    public var serverName: String?

    public init(
        trustRootsFile: String? = nil,
        certificateChainFile: String? = nil,
        privateKeyFile: String? = nil,
        serverName: String? = nil
    ) {
        self.trustRootsFile = trustRootsFile
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
    }

    public func makeContext() throws(TLSFileError) -> NIOSSLContext {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        tls.certificateVerification = .fullVerification
        if let trustRootsFile {
            let roots = try TLSFileError.loading(trustRootsFile, "CA file") {
                let certificates = try NIOSSLCertificate.fromPEMFile(trustRootsFile)
                guard !certificates.isEmpty else { throw TLSFileError.Empty() }
                return certificates
            }
            tls.trustRoots = .certificates(roots)
        }
        switch (certificateChainFile, privateKeyFile) {
        case (nil, nil):
            break
        case (let chainFile?, let keyFile?):
            let chain = try TLSFileError.loading(chainFile, "client certificate") {
                try NIOSSLCertificate.fromPEMFile(chainFile)
            }
            let key = try TLSFileError.loading(keyFile, "client key") {
                try NIOSSLPrivateKey(file: keyFile, format: .pem)
            }
            tls.certificateChain = chain.map { .certificate($0) }
            tls.privateKey = .privateKey(key)
        default:
            throw TLSFileError(file: "", what: "client certificate", reason: "give both the certificate and its key")
        }
        return try TLSFileError.loading(trustRootsFile ?? "", "TLS configuration") {
            try NIOSSLContext(configuration: tls)
        }
    }

    /// The SNI name and the name checked, or nil to check the connected IP address.
    func expectedName(host: String) -> String? {
        let name = serverName ?? host
        return Self.isIPAddress(name) ? nil : name
    }

    static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}
