import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Auth` on the wire, `IdentityService` behind it.
struct AuthHandler: AuthService.Handler {
    let identity: IdentityService
    let sessions: SessionAuthenticator
    let pageGate: PageGate
    let directory: Directory

    func signUp(_ request: AuthV1.SignUpRequest, context: CallContext) async throws -> AuthV1.SignUpResponse {
        let signedIn = try await identity.signUp(
            email: request.email,
            password: request.password,
            attributes: request.attributes,
            clientAddress: context.clientAddress
        )
        return AuthV1.SignUpResponse(user: AuthV1.User(signedIn.user), session: AuthV1.Session(signedIn))
    }

    func login(_ request: AuthV1.LoginRequest, context: CallContext) async throws -> AuthV1.LoginResponse {
        let signedIn = try await identity.login(
            email: request.email,
            password: request.password,
            clientAddress: context.clientAddress
        )
        return AuthV1.LoginResponse(user: AuthV1.User(signedIn.user), session: AuthV1.Session(signedIn))
    }

    func logout(_ request: AuthV1.LogoutRequest, context: CallContext) async throws -> AuthV1.LogoutResponse {
        try await identity.logout(token: request.token)
        return AuthV1.LogoutResponse()
    }

    func getMe(_ request: AuthV1.GetMeRequest, context: CallContext) async throws -> AuthV1.GetMeResponse {
        let current = try await sessions.authenticate(token: request.token)
        let groups = try await directory.snapshot().groupNames(of: current.user)
        return AuthV1.GetMeResponse(user: AuthV1.User(current.user, groups: groups))
    }

    private static let getMeAnswer = KeptAnswerKey("GetMe")

    /// GetMe from the session cache and the loaded directory; nil sends it to `getMe`.
    /// The encoded GetMeResponse is kept with the cached session for this directory
    /// snapshot (the user's groups come from it): a repeated check of one token packs nothing.
    func getMeFromMemory(_ request: AuthV1.GetMeRequest) throws(AuthError) -> [UInt8]? {
        guard let snapshot = directory.loadedSnapshot() else { return nil }
        let answer = try sessions.answerFromMemory(token: request.token, key: Self.getMeAnswer, basis: snapshot) { current in
            AuthV1.GetMeResponse(user: AuthV1.User(current.user, groups: snapshot.groupNames(of: current.user)))
                .withEncodedBytes { Array($0) }
        }
        switch answer {
        case .valid(let encoded):
            return encoded
        case .invalid:
            throw AuthError.invalidSession
        case .unknown:
            return nil
        }
    }

    func updateProfile(_ request: AuthV1.UpdateProfileRequest, context: CallContext) async throws -> AuthV1.UpdateProfileResponse {
        let changes = UserChanges(
            email: request.email?.value,
            setAttributes: request.setAttributes,
            removeAttributes: Set(request.removeAttributes)
        )
        let update = try await identity.updateProfile(
            token: request.token,
            changes: changes,
            currentPassword: request.currentPassword,
            clientAddress: context.clientAddress
        )
        return AuthV1.UpdateProfileResponse(
            user: AuthV1.User(update.user),
            pendingEmail: update.pendingEmail ?? "",
            codeValidForSeconds: UInt32(clamping: (update.codeValidity?.wholeMilliseconds ?? 0) / 1000)
        )
    }

    func confirmEmailChange(_ request: AuthV1.ConfirmEmailChangeRequest, context: CallContext) async throws -> AuthV1.ConfirmEmailChangeResponse {
        AuthV1.ConfirmEmailChangeResponse(user: AuthV1.User(try await identity.confirmEmailChange(token: request.token, code: request.code)))
    }

    func changePassword(_ request: AuthV1.ChangePasswordRequest, context: CallContext) async throws -> AuthV1.ChangePasswordResponse {
        try await identity.changePassword(
            token: request.token,
            oldPassword: request.oldPassword,
            newPassword: request.newPassword
        )
        return AuthV1.ChangePasswordResponse()
    }

    func forgotPassword(_ request: AuthV1.ForgotPasswordRequest, context: CallContext) async throws -> AuthV1.ForgotPasswordResponse {
        let validity = try await identity.forgotPassword(email: request.email, clientAddress: context.clientAddress)
        return AuthV1.ForgotPasswordResponse(codeValidForSeconds: UInt32(validity.wholeMilliseconds / 1000))
    }

    func confirmPassword(_ request: AuthV1.ConfirmPasswordRequest, context: CallContext) async throws -> AuthV1.ConfirmPasswordResponse {
        try await identity.confirmPassword(
            email: request.email,
            code: request.code,
            newPassword: request.newPassword,
            clientAddress: context.clientAddress
        )
        return AuthV1.ConfirmPasswordResponse()
    }

    func acceptInvite(_ request: AuthV1.AcceptInviteRequest, context: CallContext) async throws -> AuthV1.AcceptInviteResponse {
        let signedIn = try await identity.acceptInvite(
            code: request.code,
            password: request.password,
            clientAddress: context.clientAddress
        )
        return AuthV1.AcceptInviteResponse(user: AuthV1.User(signedIn.user), session: AuthV1.Session(signedIn))
    }

    func authorizePage(_ request: AuthV1.AuthorizePageRequest, context: CallContext) async throws -> AuthV1.AuthorizePageResponse {
        AuthV1.AuthorizePageResponse(try await pageGate.authorize(token: request.token, path: request.path))
    }

    /// The token checks answered on the event loop when memory holds what they need.
    func registerAnswersFromMemory(on router: inout Router) {
        router.answerFromMemory(AuthService.Method.getMe, encoded: { request, _ in
            try self.getMeFromMemory(request)
        })
        router.answerFromMemory(AuthService.Method.authorizePage, encoded: { request, _ in
            try self.pageGate.authorizeFromMemory(token: request.token, path: request.path) { decision in
                AuthV1.AuthorizePageResponse(decision).withEncodedBytes { Array($0) }
            }
        })
    }
}

extension CallContext {
    /// The end user's address as the calling backend reports it; nil when it does not.
    var clientAddress: String? {
        guard let address = metadata[MetadataKey.clientAddress], !address.isEmpty else { return nil }
        return address
    }
}
