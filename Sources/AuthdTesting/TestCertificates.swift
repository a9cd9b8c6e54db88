public import Foundation

/// A certificate authority made by the `openssl` command for one test, in `directory`:
/// `issue` signs server and client certificates for 127.0.0.1 and localhost. Nothing here
/// is fit for anything but a test (two-day validity, keys unencrypted).
public struct TestCertificateAuthority: Sendable {
    public let directory: URL
    public let name: String
    /// PEM: the CA's certificate, what clients (or a server checking clients) trust.
    public var certificateFile: String { directory.appendingPathComponent("\(name)-ca.pem").path }
    var keyFile: String { directory.appendingPathComponent("\(name)-ca.key").path }

    /// A certificate and its key, as files.
    public struct Issued: Sendable {
        public let certificateFile: String
        public let keyFile: String
    }

    public enum Purpose: String, Sendable {
        case server = "serverAuth"
        case client = "clientAuth"
    }

    public init(in directory: URL, name: String) throws {
        self.directory = directory
        self.name = name
        try Self.openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", keyFile, "-out", certificateFile, "-days", "2", "-subj", "/CN=\(name) test CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// Signs a certificate named `commonName` with `serial`, valid for `names` (subjectAltName
    /// entries; 127.0.0.1 and localhost by default).
    public func issue(
        _ commonName: String, serial: Int, for purpose: Purpose, names: String = "DNS:localhost,IP:127.0.0.1"
    ) throws -> Issued {
        let base = directory.appendingPathComponent("\(name)-\(commonName)-\(serial)").path
        let issued = Issued(certificateFile: base + ".pem", keyFile: base + ".key")
        try Self.openssl([
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", issued.keyFile, "-out", base + ".csr", "-subj", "/CN=\(commonName)",
        ])
        let extensions = base + ".ext"
        try "subjectAltName=\(names)\nextendedKeyUsage=\(purpose.rawValue)\n"
            .write(toFile: extensions, atomically: true, encoding: .utf8)
        try Self.openssl([
            "x509", "-req", "-in", base + ".csr", "-CA", certificateFile, "-CAkey", keyFile,
            "-set_serial", "\(serial)", "-days", "2", "-out", issued.certificateFile, "-extfile", extensions,
        ])
        return issued
    }

    static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLCommandFailed(arguments: arguments, output: String(decoding: output, as: UTF8.self))
        }
    }

    struct OpenSSLCommandFailed: Error, CustomStringConvertible {
        let arguments: [String]
        let output: String
        var description: String { "openssl \(arguments.joined(separator: " ")) failed: \(output)" }
    }
}

/// A fresh directory for a test's files, removed when `body` returns or throws.
public func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = try makeTemporaryDirectory("authd-tls")
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}
