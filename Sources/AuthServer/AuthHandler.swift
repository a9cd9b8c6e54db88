import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Auth` on the wire, `IdentityService` behind it.
struct AuthHandler: AuthService.Handler {
    let identity: IdentityService
    let administration: AdministrationService
    let pageGate: PageGate

    func signUp(_ request: SignUpRequest, context: CallContext) async throws(RPCError) -> SignUpResponse {
        try await mappingErrors { () throws(AuthError) in
            let signedIn = try await identity.signUp(
                email: request.email,
                password: request.password,
                attributes: request.attributes,
                clientAddress: context.clientAddress
            )
            return SignUpResponse(user: AuthWire.User(signedIn.user), session: AuthWire.Session(signedIn))
        }
    }

    func login(_ request: LoginRequest, context: CallContext) async throws(RPCError) -> LoginResponse {
        try await mappingErrors { () throws(AuthError) in
            let signedIn = try await identity.login(
                email: request.email,
                password: request.password,
                clientAddress: context.clientAddress
            )
            return LoginResponse(user: AuthWire.User(signedIn.user), session: AuthWire.Session(signedIn))
        }
    }

    func logout(_ request: LogoutRequest, context: CallContext) async throws(RPCError) -> LogoutResponse {
        try await mappingErrors { () throws(AuthError) in
            try await identity.logout(token: request.token)
            return LogoutResponse()
        }
    }

    func getMe(_ request: GetMeRequest, context: CallContext) async throws(RPCError) -> GetMeResponse {
        try await mappingErrors { () throws(AuthError) in
            let current = try await identity.authenticate(token: request.token)
            let groups = try await administration.groups(of: current.user)
            return GetMeResponse(user: AuthWire.User(current.user, groups: groups))
        }
    }

    func updateProfile(_ request: UpdateProfileRequest, context: CallContext) async throws(RPCError) -> UpdateProfileResponse {
        try await mappingErrors { () throws(AuthError) in
            let changes = UserChanges(
                email: request.email?.value,
                setAttributes: request.setAttributes,
                removeAttributes: Set(request.removeAttributes)
            )
            let user = try await identity.updateProfile(token: request.token, changes: changes)
            return UpdateProfileResponse(user: AuthWire.User(user))
        }
    }

    func changePassword(_ request: ChangePasswordRequest, context: CallContext) async throws(RPCError) -> ChangePasswordResponse {
        try await mappingErrors { () throws(AuthError) in
            try await identity.changePassword(
                token: request.token,
                oldPassword: request.oldPassword,
                newPassword: request.newPassword
            )
            return ChangePasswordResponse()
        }
    }

    func forgotPassword(_ request: ForgotPasswordRequest, context: CallContext) async throws(RPCError) -> ForgotPasswordResponse {
        try await mappingErrors { () throws(AuthError) in
            let validity = try await identity.forgotPassword(email: request.email, clientAddress: context.clientAddress)
            return ForgotPasswordResponse(codeValidForSeconds: UInt32(validity.wholeMilliseconds / 1000))
        }
    }

    func confirmPassword(_ request: ConfirmPasswordRequest, context: CallContext) async throws(RPCError) -> ConfirmPasswordResponse {
        try await mappingErrors { () throws(AuthError) in
            try await identity.confirmPassword(
                email: request.email,
                code: request.code,
                newPassword: request.newPassword,
                clientAddress: context.clientAddress
            )
            return ConfirmPasswordResponse()
        }
    }

    func acceptInvite(_ request: AcceptInviteRequest, context: CallContext) async throws(RPCError) -> AcceptInviteResponse {
        try await mappingErrors { () throws(AuthError) in
            let signedIn = try await identity.acceptInvite(
                code: request.code,
                password: request.password,
                clientAddress: context.clientAddress
            )
            return AcceptInviteResponse(user: AuthWire.User(signedIn.user), session: AuthWire.Session(signedIn))
        }
    }

    func authorizePage(_ request: AuthorizePageRequest, context: CallContext) async throws(RPCError) -> AuthorizePageResponse {
        try await mappingErrors { () throws(AuthError) in
            AuthorizePageResponse(try await pageGate.authorize(token: request.token, path: request.path))
        }
    }
}

extension CallContext {
    /// The end user's address as the calling backend reports it; nil when it does not.
    var clientAddress: String? {
        guard let address = metadata[MetadataKey.clientAddress], !address.isEmpty else { return nil }
        return address
    }
}
