import AuthClient

let authd = AuthdClient(host: "127.0.0.1", port: 7400)
let email = "ada@example.com", password = "correct horse"

// Pass the end user's address (per-address throttles use it) and a deadline:
let options = CallOptions(timeout: .seconds(2), metadata: [MetadataKey.clientAddress: "203.0.113.9"])

// Sign up; from the second run on the email is taken (ALREADY_EXISTS), so log in instead.
func signUpOrLogIn() async throws(RPCError) -> AuthV1.Session {
    do {
        let request = AuthV1.SignUpRequest(email: email, password: password, attributes: ["name": "Ada"])
        return try await authd.auth.signUp(request, options: options).session!
    } catch where error.code == .alreadyExists {
        return try await authd.auth.login(AuthV1.LoginRequest(email: email, password: password), options: options).session!
    }
}
let token = try await signUpOrLogIn().token   // "authd_st_…", 256 bits; keep it in your session cookie

// On every request of your app: who is this?
let me = try await authd.auth.getMe(AuthV1.GetMeRequest(token: token)).user!
print(me.email, me.roles)
await authd.close()
