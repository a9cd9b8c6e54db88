import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif
import AuthV1GRPC
import GRPCCore
import GRPCNIOTransportHTTP2

/// authd's `Auth/GetMe` served the way a Swift user would otherwise build it: grpc-swift-2
/// over HTTP/2 (grpc-swift-nio-transport), with swift-protobuf messages generated from the
/// same proto/auth/v1/auth.proto. The token check is an in-memory map, so the figure is the
/// stack's ceiling, not a database's. peerbench passes the token and the very GetMeResponse
/// authd gave for it, so both stacks send the same response content.
@main
struct GRPCGetMeServer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-grpc-server",
        abstract: "Serve auth.v1.Auth/GetMe over grpc-swift-2 from an in-memory token map."
    )

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "TCP port; 0 picks a free one.")
    var port = 0

    @Option(help: "The session token GetMe accepts.")
    var token: String

    @Option(help: "The GetMeResponse to answer with, as protobuf bytes in hex.")
    var responseHex: String

    func run() async throws {
        unblockTermination()
        let response = try Auth_V1_GetMeResponse(serializedBytes: hexBytes(responseHex))
        let server = GRPCServer(
            transport: .http2NIOPosix(
                address: .ipv4(host: host, port: port),
                transportSecurity: .plaintext
            ),
            services: [GetMeService(users: [token: response.user])]
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await server.serve() }
            if let address = try await server.listeningAddress?.ipv4 {
                // Scripts wait for this line to learn the port.
                print("bench-grpc-server listening on \(address.host):\(address.port)")
                fflush(nil)
            }
        }
    }
}

func hexBytes(_ hex: String) throws -> [UInt8] {
    let digits = Array(hex.utf8)
    guard digits.count % 2 == 0 else { throw ValidationError("odd number of hex digits") }
    func value(_ digit: UInt8) throws -> UInt8 {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        default: throw ValidationError("not a lower-case hex digit: \(digit)")
        }
    }
    return try stride(from: 0, to: digits.count, by: 2).map { try value(digits[$0]) << 4 | value(digits[$0 + 1]) }
}

/// GetMe only; every other method of the service answers UNIMPLEMENTED.
struct GetMeService: Auth_V1_Auth.SimpleServiceProtocol {
    let users: [String: Auth_V1_User]

    func getMe(request: Auth_V1_GetMeRequest, context: ServerContext) async throws -> Auth_V1_GetMeResponse {
        guard let user = users[request.token] else {
            throw RPCError(code: .unauthenticated, message: "invalid or expired session")
        }
        var response = Auth_V1_GetMeResponse()
        response.user = user
        return response
    }

    private func unimplemented<Response>() throws -> Response {
        throw RPCError(code: .unimplemented, message: "not served by the benchmark")
    }

    func signUp(request: Auth_V1_SignUpRequest, context: ServerContext) async throws -> Auth_V1_SignUpResponse { try unimplemented() }
    func login(request: Auth_V1_LoginRequest, context: ServerContext) async throws -> Auth_V1_LoginResponse { try unimplemented() }
    func logout(request: Auth_V1_LogoutRequest, context: ServerContext) async throws -> Auth_V1_LogoutResponse { try unimplemented() }
    func updateProfile(request: Auth_V1_UpdateProfileRequest, context: ServerContext) async throws -> Auth_V1_UpdateProfileResponse { try unimplemented() }
    func changePassword(request: Auth_V1_ChangePasswordRequest, context: ServerContext) async throws -> Auth_V1_ChangePasswordResponse { try unimplemented() }
    func forgotPassword(request: Auth_V1_ForgotPasswordRequest, context: ServerContext) async throws -> Auth_V1_ForgotPasswordResponse { try unimplemented() }
    func confirmPassword(request: Auth_V1_ConfirmPasswordRequest, context: ServerContext) async throws -> Auth_V1_ConfirmPasswordResponse { try unimplemented() }
    func acceptInvite(request: Auth_V1_AcceptInviteRequest, context: ServerContext) async throws -> Auth_V1_AcceptInviteResponse { try unimplemented() }
    func authorizePage(request: Auth_V1_AuthorizePageRequest, context: ServerContext) async throws -> Auth_V1_AuthorizePageResponse { try unimplemented() }
}

/// A process started by Foundation's `Process` inherits its parent's blocked signals: let
/// SIGTERM and SIGINT end this server again (their default action), before any thread starts.
func unblockTermination() {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    pthread_sigmask(SIG_UNBLOCK, &signals, nil)
}
