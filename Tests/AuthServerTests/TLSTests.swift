import AuthClient
import AuthRPC
import AuthServer
import AuthdTesting
import Foundation
import Testing

/// TLS on the RPC port with certificates that `openssl` makes for each test.
@Suite("TLS on the RPC port")
struct TLSTests {
    @Test("the Swift client signs up and reads itself back over TLS with the server's CA")
    func callsOverTLS() async throws {
        try await withTemporaryDirectory { directory in
            let ca = try TestCertificateAuthority(in: directory, name: "main")
            let server = try ca.issue("authd", serial: 1, for: .server)
            try await withTestAuthd(
                tls: ServerTLSConfiguration(certificateChainFile: server.certificateFile, privateKeyFile: server.keyFile),
                clientTLS: ClientTLSConfiguration(trustRootsFile: ca.certificateFile)
            ) { authd async throws in
                let session = try #require(try await authd.client.signUp("tls@example.com").session)
                #expect(try await authd.client.me(session.token).email == "tls@example.com")
                // The name checked can be a DNS name of the certificate as well as the IP address.
                let byName = authd.client(configuration: .init(tls: .init(trustRootsFile: ca.certificateFile, serverName: "localhost")))
                #expect(try await byName.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                await byName.close()
            }
        }
    }

    @Test("a client that does not trust the server's CA, or speaks plaintext, is refused")
    func refusedWithoutTheCA() async throws {
        try await withTemporaryDirectory { directory in
            let ca = try TestCertificateAuthority(in: directory, name: "main")
            let other = try TestCertificateAuthority(in: directory, name: "other")
            let server = try ca.issue("authd", serial: 1, for: .server)
            try await withTestAuthd(
                tls: ServerTLSConfiguration(certificateChainFile: server.certificateFile, privateKeyFile: server.keyFile),
                clientTLS: ClientTLSConfiguration(trustRootsFile: ca.certificateFile)
            ) { authd async throws in
                for configuration in [
                    ClientConfiguration(tls: .init(trustRootsFile: other.certificateFile)),
                    ClientConfiguration(tls: .init()),  // the system's CAs
                    ClientConfiguration(defaultTimeout: .seconds(5)),  // plaintext to a TLS port
                ] {
                    let client = authd.client(configuration: configuration)
                    let error = await #expect(throws: RPCError.self) {
                        try await client.health.check(AuthV1.HealthCheckRequest())
                    }
                    #expect(error?.code == .unavailable, "\(configuration): \(String(describing: error))")
                    await client.close()
                }
                let plaintext = authd.client(configuration: .init(defaultTimeout: .seconds(5)))
                let error = await #expect(throws: RPCError.self) { try await plaintext.health.check(AuthV1.HealthCheckRequest()) }
                #expect(error?.message.contains("the server speaks TLS") == true, "\(String(describing: error))")
                await plaintext.close()
                // The name is checked. (swift-nio-ssl also accepts a certificate that names the
                // connected IP address, whatever the name asked for: these certificates do.)
                try await withTestAuthdNamed(ca: ca, directory: directory)
                // The server is still there for those that trust it.
                #expect(try await authd.client.health.check(AuthV1.HealthCheckRequest()).status == .serving)
            }
        }
    }

    @Test("mTLS: required client certificates refuse a client without one and serve one with one")
    func clientCertificatesRequired() async throws {
        try await withTemporaryDirectory { directory in
            let ca = try TestCertificateAuthority(in: directory, name: "main")
            let clients = try TestCertificateAuthority(in: directory, name: "clients")
            let stranger = try TestCertificateAuthority(in: directory, name: "stranger")
            let server = try ca.issue("authd", serial: 1, for: .server)
            let backend = try clients.issue("backend", serial: 7, for: .client)
            let impostor = try stranger.issue("backend", serial: 8, for: .client)
            try await withTestAuthd(
                tls: ServerTLSConfiguration(
                    certificateChainFile: server.certificateFile, privateKeyFile: server.keyFile,
                    clientCAFile: clients.certificateFile, clientAuthentication: .required),
                clientTLS: ClientTLSConfiguration(
                    trustRootsFile: ca.certificateFile, certificateChainFile: backend.certificateFile, privateKeyFile: backend.keyFile)
            ) { authd async throws in
                #expect(try await authd.client.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                for tls in [
                    ClientTLSConfiguration(trustRootsFile: ca.certificateFile),
                    ClientTLSConfiguration(
                        trustRootsFile: ca.certificateFile, certificateChainFile: impostor.certificateFile, privateKeyFile: impostor.keyFile),
                ] {
                    let client = authd.client(configuration: .init(defaultTimeout: .seconds(5), tls: tls))
                    let error = await #expect(throws: RPCError.self) {
                        try await client.health.check(AuthV1.HealthCheckRequest())
                    }
                    #expect(error?.code == .unavailable, "\(tls)")
                    await client.close()
                }
            }
        }
    }

    @Test("optional client certificates serve a client without one")
    func clientCertificatesOptional() async throws {
        try await withTemporaryDirectory { directory in
            let ca = try TestCertificateAuthority(in: directory, name: "main")
            let server = try ca.issue("authd", serial: 1, for: .server)
            let backend = try ca.issue("backend", serial: 2, for: .client)
            try await withTestAuthd(
                tls: ServerTLSConfiguration(
                    certificateChainFile: server.certificateFile, privateKeyFile: server.keyFile,
                    clientCAFile: ca.certificateFile, clientAuthentication: .optional),
                clientTLS: ClientTLSConfiguration(trustRootsFile: ca.certificateFile)
            ) { authd async throws in
                #expect(try await authd.client.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                let withCertificate = authd.client(configuration: .init(tls: .init(
                    trustRootsFile: ca.certificateFile, certificateChainFile: backend.certificateFile, privateKeyFile: backend.keyFile)))
                #expect(try await withCertificate.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                await withCertificate.close()
            }
        }
    }

    @Test("a reload serves the new certificate to new connections; an open connection keeps working")
    func reload() async throws {
        try await withTemporaryDirectory { directory in
            let first = try TestCertificateAuthority(in: directory, name: "first")
            let second = try TestCertificateAuthority(in: directory, name: "second")
            let old = try first.issue("authd", serial: 1, for: .server)
            let new = try second.issue("authd", serial: 2, for: .server)
            let certificateFile = directory.appendingPathComponent("served.pem").path
            let keyFile = directory.appendingPathComponent("served.key").path
            func serve(_ issued: TestCertificateAuthority.Issued) throws {
                for (from, to) in [(issued.certificateFile, certificateFile), (issued.keyFile, keyFile)] {
                    try? FileManager.default.removeItem(atPath: to)
                    try FileManager.default.copyItem(atPath: from, toPath: to)
                }
            }
            try serve(old)
            try await withTestAuthd(
                tls: ServerTLSConfiguration(certificateChainFile: certificateFile, privateKeyFile: keyFile),
                clientTLS: ClientTLSConfiguration(trustRootsFile: first.certificateFile)
            ) { authd async throws in
                let open = authd.client
                #expect(try await open.health.check(AuthV1.HealthCheckRequest()).status == .serving)

                try serve(new)
                let served = try #require(try authd.server.reloadTLS())
                #expect(served.contains("serial 02"), "\(served)")

                // Trusting only the first CA, this connection would fail if it had to reconnect.
                #expect(try await open.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                let trustsFirst = authd.client(configuration: .init(defaultTimeout: .seconds(5), tls: .init(trustRootsFile: first.certificateFile)))
                await #expect(throws: RPCError.self) { try await trustsFirst.health.check(AuthV1.HealthCheckRequest()) }
                await trustsFirst.close()
                let trustsSecond = authd.client(configuration: .init(tls: .init(trustRootsFile: second.certificateFile)))
                #expect(try await trustsSecond.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                await trustsSecond.close()

                // A broken file leaves the new certificate in place.
                try "not a certificate".write(toFile: certificateFile, atomically: true, encoding: .utf8)
                #expect(throws: TLSFileError.self) { try authd.server.reloadTLS() }
                let stillSecond = authd.client(configuration: .init(tls: .init(trustRootsFile: second.certificateFile)))
                #expect(try await stillSecond.health.check(AuthV1.HealthCheckRequest()).status == .serving)
                await stillSecond.close()
            }
        }
    }

    /// A server whose certificate names localhost only: a client asking for another name is
    /// refused, one asking for localhost served.
    private func withTestAuthdNamed(ca: TestCertificateAuthority, directory: URL) async throws {
        let server = try ca.issue("authd-dns", serial: 3, for: .server, names: "DNS:localhost")
        try await withTestAuthd(
            tls: ServerTLSConfiguration(certificateChainFile: server.certificateFile, privateKeyFile: server.keyFile),
            clientTLS: ClientTLSConfiguration(trustRootsFile: ca.certificateFile, serverName: "localhost")
        ) { authd async throws in
            #expect(try await authd.client.health.check(AuthV1.HealthCheckRequest()).status == .serving)
            for name in ["elsewhere.example", "127.0.0.1"] {
                let client = authd.client(configuration: .init(tls: .init(trustRootsFile: ca.certificateFile, serverName: name)))
                let error = await #expect(throws: RPCError.self) { try await client.health.check(AuthV1.HealthCheckRequest()) }
                #expect(error?.code == .unavailable, "\(name): \(String(describing: error))")
                await client.close()
            }
        }
    }
}
