import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Admin` on the wire, `AdministrationService` and `APIKeyService` behind it.
/// The admin-scope key is checked before any of these runs (see `AuthdServer`).
struct AdminHandler: AdminService.Handler {
    let administration: AdministrationService
    let keys: APIKeys
    let outbox: Outbox
    let directory: Directory

    // MARK: Users

    func createUser(_ request: AuthV1.CreateUserRequest, context: CallContext) async throws -> AuthV1.CreateUserResponse {
        let (user, generated) = try await administration.createUser(
            email: request.email,
            attributes: request.attributes,
            password: request.password?.value,
            generatePassword: request.generatePassword,
            roles: request.roles,
            sendInvitation: request.sendInvitation
        )
        return AuthV1.CreateUserResponse(user: try await wireUser(user), generatedPassword: generated ?? "")
    }

    func getUser(_ request: AuthV1.GetUserRequest, context: CallContext) async throws -> AuthV1.GetUserResponse {
        AuthV1.GetUserResponse(user: try await wireUser(try await administration.user(id: request.id, email: request.email)))
    }

    func listUsers(_ request: AuthV1.ListUsersRequest, context: CallContext) async throws -> AuthV1.ListUsersResponse {
        let filter = UserFilter(
            emailPrefix: request.emailPrefix.isEmpty ? nil : request.emailPrefix,
            role: request.role.isEmpty ? nil : request.role,
            group: request.group.isEmpty ? nil : request.group,
            blocked: request.blocked?.value
        )
        return try await page(try await administration.listUsers(filter: filter, pageSize: Int(request.pageSize), pageToken: request.pageToken))
    }

    func updateUser(_ request: AuthV1.UpdateUserRequest, context: CallContext) async throws -> AuthV1.UpdateUserResponse {
        let user = try await administration.updateUser(
            id: request.id,
            email: request.email?.value,
            setAttributes: request.setAttributes,
            removeAttributes: request.removeAttributes,
            password: request.password?.value,
            roles: request.roles?.values
        )
        return AuthV1.UpdateUserResponse(user: try await wireUser(user))
    }

    func blockUser(_ request: AuthV1.UserIdRequest, context: CallContext) async throws -> AuthV1.UserResponse {
        AuthV1.UserResponse(user: try await wireUser(try await administration.setBlocked(id: request.id, blocked: true)))
    }

    func unblockUser(_ request: AuthV1.UserIdRequest, context: CallContext) async throws -> AuthV1.UserResponse {
        AuthV1.UserResponse(user: try await wireUser(try await administration.setBlocked(id: request.id, blocked: false)))
    }

    func deleteUser(_ request: AuthV1.UserIdRequest, context: CallContext) async throws -> AuthV1.Empty {
        try await administration.deleteUser(id: request.id)
        return AuthV1.Empty()
    }

    func resendInvitation(_ request: AuthV1.UserIdRequest, context: CallContext) async throws -> AuthV1.ResendInvitationResponse {
        AuthV1.ResendInvitationResponse(expiresAtMs: try await administration.issueInvitation(userID: request.id).milliseconds)
    }

    // MARK: Roles and groups

    func createRole(_ request: AuthV1.RoleRequest, context: CallContext) async throws -> AuthV1.Role {
        AuthV1.Role(try await administration.createRole(name: request.name))
    }

    func renameRole(_ request: AuthV1.RenameRequest, context: CallContext) async throws -> AuthV1.Role {
        AuthV1.Role(try await administration.renameRole(name: request.name, to: request.newName))
    }

    func deleteRole(_ request: AuthV1.RoleRequest, context: CallContext) async throws -> AuthV1.Empty {
        try await administration.deleteRole(name: request.name)
        return AuthV1.Empty()
    }

    func listRoles(_ request: AuthV1.Empty, context: CallContext) async throws -> AuthV1.ListRolesResponse {
        AuthV1.ListRolesResponse(roles: try await administration.roles().map(AuthV1.Role.init))
    }

    func createGroup(_ request: AuthV1.CreateGroupRequest, context: CallContext) async throws -> AuthV1.GroupResponse {
        AuthV1.GroupResponse(group: AuthV1.Group(try await administration.createGroup(name: request.name, roles: request.roles)))
    }

    func renameGroup(_ request: AuthV1.RenameRequest, context: CallContext) async throws -> AuthV1.GroupResponse {
        AuthV1.GroupResponse(group: AuthV1.Group(try await administration.renameGroup(name: request.name, to: request.newName)))
    }

    func deleteGroup(_ request: AuthV1.GroupRequest, context: CallContext) async throws -> AuthV1.Empty {
        try await administration.deleteGroup(name: request.name)
        return AuthV1.Empty()
    }

    func listGroups(_ request: AuthV1.Empty, context: CallContext) async throws -> AuthV1.ListGroupsResponse {
        AuthV1.ListGroupsResponse(groups: try await administration.groups().map(AuthV1.Group.init))
    }

    func setGroupRoles(_ request: AuthV1.SetGroupRolesRequest, context: CallContext) async throws -> AuthV1.GroupResponse {
        AuthV1.GroupResponse(group: AuthV1.Group(try await administration.setGroupRoles(name: request.name, roles: request.roles)))
    }

    func listGroupMembers(_ request: AuthV1.ListGroupMembersRequest, context: CallContext) async throws -> AuthV1.ListUsersResponse {
        try await page(try await administration.listGroupMembers(name: request.name, pageSize: Int(request.pageSize), pageToken: request.pageToken))
    }

    // MARK: Page rules and settings

    func setPageRule(_ request: AuthV1.SetPageRuleRequest, context: CallContext) async throws -> AuthV1.PageRule {
        guard let rule = request.rule else {
            throw AuthError.invalidArgument("rule is required", field: "rule")
        }
        return AuthV1.PageRule(try await administration.setPageRule(try AuthCore.PageRule(rule)))
    }

    func deletePageRule(_ request: AuthV1.PageRuleRequest, context: CallContext) async throws -> AuthV1.Empty {
        try await administration.deletePageRule(pattern: request.pattern)
        return AuthV1.Empty()
    }

    func listPageRules(_ request: AuthV1.Empty, context: CallContext) async throws -> AuthV1.ListPageRulesResponse {
        AuthV1.ListPageRulesResponse(rules: try await administration.pageRules().map(AuthV1.PageRule.init))
    }

    func getSettings(_ request: AuthV1.Empty, context: CallContext) async throws -> AuthV1.SettingsResponse {
        AuthV1.SettingsResponse(settings: AuthV1.Settings(try await administration.settings()))
    }

    func updateSettings(_ request: AuthV1.UpdateSettingsRequest, context: CallContext) async throws -> AuthV1.SettingsResponse {
        AuthV1.SettingsResponse(settings: AuthV1.Settings(try await administration.updateSettings(try .init(request))))
    }

    // MARK: Templates

    func getTemplate(_ request: AuthV1.TemplateRequest, context: CallContext) async throws -> AuthV1.TemplateResponse {
        AuthV1.TemplateResponse(template: AuthV1.EmailTemplate(try await administration.template(try TemplateKind(request.kind))))
    }

    func setTemplate(_ request: AuthV1.SetTemplateRequest, context: CallContext) async throws -> AuthV1.TemplateResponse {
        guard let template = request.template else {
            throw AuthError.invalidArgument("template is required", field: "template")
        }
        return AuthV1.TemplateResponse(template: AuthV1.EmailTemplate(try await administration.setTemplate(try AuthCore.EmailTemplate(template))))
    }

    func resetTemplate(_ request: AuthV1.TemplateRequest, context: CallContext) async throws -> AuthV1.TemplateResponse {
        AuthV1.TemplateResponse(template: AuthV1.EmailTemplate(try await administration.resetTemplate(try TemplateKind(request.kind))))
    }

    func previewTemplate(_ request: AuthV1.PreviewTemplateRequest, context: CallContext) async throws -> AuthV1.PreviewTemplateResponse {
        let kind = try TemplateKind(request.kind)
        var wire = request.template
        wire?.kind = request.kind
        let template = try wire.map { wire throws(AuthError) in try AuthCore.EmailTemplate(wire) }
        let rendered = try await administration.previewTemplate(kind, template: template, values: request.values)
        return AuthV1.PreviewTemplateResponse(subject: rendered.subject, textBody: rendered.textBody, htmlBody: rendered.htmlBody)
    }

    // MARK: API keys

    func createApiKey(_ request: AuthV1.CreateApiKeyRequest, context: CallContext) async throws -> AuthV1.CreateApiKeyResponse {
        let (key, secret) = try await keys.create(name: request.name, scope: try AuthCore.KeyScope(request.scope))
        return AuthV1.CreateApiKeyResponse(key: AuthV1.ApiKey(key), secret: secret)
    }

    func listApiKeys(_ request: AuthV1.Empty, context: CallContext) async throws -> AuthV1.ListApiKeysResponse {
        AuthV1.ListApiKeysResponse(keys: try await keys.list().map(AuthV1.ApiKey.init))
    }

    func revokeApiKey(_ request: AuthV1.RevokeApiKeyRequest, context: CallContext) async throws -> AuthV1.Empty {
        try await keys.revoke(id: request.id)
        return AuthV1.Empty()
    }

    // MARK: Outbox

    func listDeadMessages(_ request: AuthV1.ListDeadMessagesRequest, context: CallContext) async throws -> AuthV1.ListDeadMessagesResponse {
        let (messages, next) = try await outbox.deadMessages(pageSize: Int(request.pageSize), pageToken: request.pageToken)
        return AuthV1.ListDeadMessagesResponse(messages: messages.map(AuthV1.DeadMessage.init), nextPageToken: next)
    }

    func requeueMessages(_ request: AuthV1.RequeueMessagesRequest, context: CallContext) async throws -> AuthV1.RequeueMessagesResponse {
        AuthV1.RequeueMessagesResponse(requeued: UInt32(clamping: try await outbox.requeue(ids: request.ids.map { Int64(clamping: $0) })))
    }

    // MARK: Remove everything

    func removeEverything(_ request: AuthV1.RemoveEverythingRequest, context: CallContext) async throws -> AuthV1.RemoveEverythingResponse {
        AuthV1.RemoveEverythingResponse(try await administration.removeEverything(confirmation: request.confirmation))
    }

    // MARK: Helpers

    private func wireUser(_ user: AuthCore.User) async throws(AuthError) -> AuthV1.User {
        AuthV1.User(user, groups: try await directory.snapshot().groupNames(of: user))
    }

    private func page(_ listed: (users: [User], nextPageToken: String)) async throws(AuthError) -> AuthV1.ListUsersResponse {
        let (users, next) = listed
        let snapshot = try await directory.snapshot()
        let wire = users.map { user in AuthV1.User(user, groups: snapshot.groupNames(of: user)) }
        return AuthV1.ListUsersResponse(users: wire, nextPageToken: next)
    }
}
