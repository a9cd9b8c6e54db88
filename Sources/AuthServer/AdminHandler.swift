import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// `auth.v1.Admin` on the wire, `AdministrationService` and `APIKeyService` behind it.
/// The admin-scope key is checked before any of these runs (see `AuthdServer`).
struct AdminHandler: AdminService.Handler {
    let administration: AdministrationService
    let keys: APIKeyService
    let mailQueue: MailQueue

    // MARK: Users

    func createUser(_ request: CreateUserRequest, context: CallContext) async throws(RPCError) -> CreateUserResponse {
        try await mappingErrors { () throws(AuthError) in
            let (user, generated) = try await administration.createUser(
                email: request.email,
                attributes: request.attributes,
                password: request.password?.value,
                generatePassword: request.generatePassword,
                roles: request.roles,
                sendInvitation: request.sendInvitation
            )
            return CreateUserResponse(user: try await wireUser(user), generatedPassword: generated ?? "")
        }
    }

    func getUser(_ request: GetUserRequest, context: CallContext) async throws(RPCError) -> GetUserResponse {
        try await mappingErrors { () throws(AuthError) in
            GetUserResponse(user: try await wireUser(try await administration.user(id: request.id, email: request.email)))
        }
    }

    func listUsers(_ request: ListUsersRequest, context: CallContext) async throws(RPCError) -> ListUsersResponse {
        try await mappingErrors { () throws(AuthError) in
            let filter = UserFilter(
                emailPrefix: request.emailPrefix.isEmpty ? nil : request.emailPrefix,
                role: request.role.isEmpty ? nil : request.role,
                group: request.group.isEmpty ? nil : request.group,
                blocked: request.blocked?.value
            )
            return try await page(filter: filter, pageSize: request.pageSize, pageToken: request.pageToken)
        }
    }

    func updateUser(_ request: UpdateUserRequest, context: CallContext) async throws(RPCError) -> UpdateUserResponse {
        try await mappingErrors { () throws(AuthError) in
            let user = try await administration.updateUser(
                id: request.id,
                email: request.email?.value,
                setAttributes: request.setAttributes,
                removeAttributes: request.removeAttributes,
                password: request.password?.value,
                roles: request.roles?.values
            )
            return UpdateUserResponse(user: try await wireUser(user))
        }
    }

    func blockUser(_ request: UserIdRequest, context: CallContext) async throws(RPCError) -> UserResponse {
        try await mappingErrors { () throws(AuthError) in
            UserResponse(user: try await wireUser(try await administration.setBlocked(id: request.id, blocked: true)))
        }
    }

    func unblockUser(_ request: UserIdRequest, context: CallContext) async throws(RPCError) -> UserResponse {
        try await mappingErrors { () throws(AuthError) in
            UserResponse(user: try await wireUser(try await administration.setBlocked(id: request.id, blocked: false)))
        }
    }

    func deleteUser(_ request: UserIdRequest, context: CallContext) async throws(RPCError) -> Empty {
        try await mappingErrors { () throws(AuthError) in
            try await administration.deleteUser(id: request.id)
            return Empty()
        }
    }

    func resendInvitation(_ request: UserIdRequest, context: CallContext) async throws(RPCError) -> ResendInvitationResponse {
        try await mappingErrors { () throws(AuthError) in
            ResendInvitationResponse(expiresAtMs: try await administration.issueInvitation(userID: request.id).milliseconds)
        }
    }

    // MARK: Roles and groups

    func createRole(_ request: RoleRequest, context: CallContext) async throws(RPCError) -> Role {
        try await mappingErrors { () throws(AuthError) in
            Role(try await administration.createRole(name: request.name))
        }
    }

    func renameRole(_ request: RenameRequest, context: CallContext) async throws(RPCError) -> Role {
        try await mappingErrors { () throws(AuthError) in
            Role(try await administration.renameRole(name: request.name, to: request.newName))
        }
    }

    func deleteRole(_ request: RoleRequest, context: CallContext) async throws(RPCError) -> Empty {
        try await mappingErrors { () throws(AuthError) in
            try await administration.deleteRole(name: request.name)
            return Empty()
        }
    }

    func listRoles(_ request: Empty, context: CallContext) async throws(RPCError) -> ListRolesResponse {
        try await mappingErrors { () throws(AuthError) in
            ListRolesResponse(roles: try await administration.roles().map(Role.init))
        }
    }

    func createGroup(_ request: CreateGroupRequest, context: CallContext) async throws(RPCError) -> GroupResponse {
        try await mappingErrors { () throws(AuthError) in
            GroupResponse(group: AuthWire.Group(try await administration.createGroup(name: request.name, roles: request.roles)))
        }
    }

    func renameGroup(_ request: RenameRequest, context: CallContext) async throws(RPCError) -> GroupResponse {
        try await mappingErrors { () throws(AuthError) in
            GroupResponse(group: AuthWire.Group(try await administration.renameGroup(name: request.name, to: request.newName)))
        }
    }

    func deleteGroup(_ request: GroupRequest, context: CallContext) async throws(RPCError) -> Empty {
        try await mappingErrors { () throws(AuthError) in
            try await administration.deleteGroup(name: request.name)
            return Empty()
        }
    }

    func listGroups(_ request: Empty, context: CallContext) async throws(RPCError) -> ListGroupsResponse {
        try await mappingErrors { () throws(AuthError) in
            ListGroupsResponse(groups: try await administration.groups().map(AuthWire.Group.init))
        }
    }

    func setGroupRoles(_ request: SetGroupRolesRequest, context: CallContext) async throws(RPCError) -> GroupResponse {
        try await mappingErrors { () throws(AuthError) in
            GroupResponse(group: AuthWire.Group(try await administration.setGroupRoles(name: request.name, roles: request.roles)))
        }
    }

    func listGroupMembers(_ request: ListGroupMembersRequest, context: CallContext) async throws(RPCError) -> ListUsersResponse {
        try await mappingErrors { () throws(AuthError) in
            try await page(filter: UserFilter(group: request.name), pageSize: request.pageSize, pageToken: request.pageToken)
        }
    }

    // MARK: Page rules and settings

    func setPageRule(_ request: SetPageRuleRequest, context: CallContext) async throws(RPCError) -> AuthWire.PageRule {
        try await mappingErrors { () throws(AuthError) in
            guard let rule = request.rule else {
                throw AuthError.invalidArgument("rule is required", field: "rule")
            }
            return AuthWire.PageRule(try await administration.setPageRule(try AuthCore.PageRule(rule)))
        }
    }

    func deletePageRule(_ request: PageRuleRequest, context: CallContext) async throws(RPCError) -> Empty {
        try await mappingErrors { () throws(AuthError) in
            try await administration.deletePageRule(pattern: request.pattern)
            return Empty()
        }
    }

    func listPageRules(_ request: Empty, context: CallContext) async throws(RPCError) -> ListPageRulesResponse {
        try await mappingErrors { () throws(AuthError) in
            ListPageRulesResponse(rules: try await administration.pageRules().map(AuthWire.PageRule.init))
        }
    }

    func getSettings(_ request: Empty, context: CallContext) async throws(RPCError) -> SettingsResponse {
        try await mappingErrors { () throws(AuthError) in
            SettingsResponse(settings: AuthWire.Settings(try await administration.settings()))
        }
    }

    func updateSettings(_ request: UpdateSettingsRequest, context: CallContext) async throws(RPCError) -> SettingsResponse {
        try await mappingErrors { () throws(AuthError) in
            var changes: [AuthCore.Settings.Key: String] = [:]
            changes[.signInRedirect] = request.signInRedirect?.value
            changes[.forbiddenRedirect] = request.forbiddenRedirect?.value
            changes[.appBaseURL] = request.appBaseURL?.value
            changes[.mailFrom] = request.mailFrom?.value
            return SettingsResponse(settings: AuthWire.Settings(try await administration.updateSettings(changes)))
        }
    }

    // MARK: Templates

    func getTemplate(_ request: TemplateRequest, context: CallContext) async throws(RPCError) -> TemplateResponse {
        try await mappingErrors { () throws(AuthError) in
            TemplateResponse(template: AuthWire.EmailTemplate(try await administration.template(try TemplateKind(request.kind))))
        }
    }

    func setTemplate(_ request: SetTemplateRequest, context: CallContext) async throws(RPCError) -> TemplateResponse {
        try await mappingErrors { () throws(AuthError) in
            guard let template = request.template else {
                throw AuthError.invalidArgument("template is required", field: "template")
            }
            return TemplateResponse(template: AuthWire.EmailTemplate(try await administration.setTemplate(try AuthCore.EmailTemplate(template))))
        }
    }

    func resetTemplate(_ request: TemplateRequest, context: CallContext) async throws(RPCError) -> TemplateResponse {
        try await mappingErrors { () throws(AuthError) in
            TemplateResponse(template: AuthWire.EmailTemplate(try await administration.resetTemplate(try TemplateKind(request.kind))))
        }
    }

    func previewTemplate(_ request: PreviewTemplateRequest, context: CallContext) async throws(RPCError) -> PreviewTemplateResponse {
        try await mappingErrors { () throws(AuthError) in
            let kind = try TemplateKind(request.kind)
            var wire = request.template
            wire?.kind = request.kind
            let template = try wire.map { wire throws(AuthError) in try AuthCore.EmailTemplate(wire) }
            let rendered = try await administration.previewTemplate(kind, template: template, values: request.values)
            return PreviewTemplateResponse(subject: rendered.subject, textBody: rendered.textBody, htmlBody: rendered.htmlBody)
        }
    }

    // MARK: API keys

    func createApiKey(_ request: CreateApiKeyRequest, context: CallContext) async throws(RPCError) -> CreateApiKeyResponse {
        try await mappingErrors { () throws(AuthError) in
            let (key, secret) = try await keys.create(name: request.name, scope: try AuthCore.KeyScope(request.scope))
            return CreateApiKeyResponse(key: ApiKey(key), secret: secret)
        }
    }

    func listApiKeys(_ request: Empty, context: CallContext) async throws(RPCError) -> ListApiKeysResponse {
        try await mappingErrors { () throws(AuthError) in
            ListApiKeysResponse(keys: try await keys.list().map(ApiKey.init))
        }
    }

    func revokeApiKey(_ request: RevokeApiKeyRequest, context: CallContext) async throws(RPCError) -> Empty {
        try await mappingErrors { () throws(AuthError) in
            try await keys.revoke(id: request.id)
            return Empty()
        }
    }

    // MARK: Outbox

    func listDeadMessages(_ request: ListDeadMessagesRequest, context: CallContext) async throws(RPCError) -> ListDeadMessagesResponse {
        try await mappingErrors { () throws(AuthError) in
            let (messages, next) = try await mailQueue.deadMessages(pageSize: Int(request.pageSize), pageToken: request.pageToken)
            return ListDeadMessagesResponse(
                messages: messages.map { message in
                    AuthWire.DeadMessage(
                        id: UInt64(message.id),
                        recipient: message.recipient,
                        subject: message.subject,
                        attempts: UInt32(clamping: message.attempts),
                        lastError: message.lastError,
                        createdAtMs: message.createdAt.milliseconds
                    )
                },
                nextPageToken: next
            )
        }
    }

    func requeueMessages(_ request: RequeueMessagesRequest, context: CallContext) async throws(RPCError) -> RequeueMessagesResponse {
        try await mappingErrors { () throws(AuthError) in
            RequeueMessagesResponse(requeued: UInt32(clamping: try await mailQueue.requeue(ids: request.ids.map { Int64(clamping: $0) })))
        }
    }

    // MARK: Remove everything

    func removeEverything(_ request: RemoveEverythingRequest, context: CallContext) async throws(RPCError) -> RemoveEverythingResponse {
        try await mappingErrors { () throws(AuthError) in
            let counts = try await administration.removeEverything(confirmation: request.confirmation)
            return RemoveEverythingResponse(
                usersRemoved: UInt64(counts.users),
                rolesRemoved: UInt64(counts.roles),
                groupsRemoved: UInt64(counts.groups),
                pageRulesRemoved: UInt64(counts.pageRules)
            )
        }
    }

    // MARK: Helpers

    private func wireUser(_ user: AuthCore.User) async throws(AuthError) -> AuthWire.User {
        AuthWire.User(user, groups: try await administration.groups(of: user))
    }

    private func page(filter: UserFilter, pageSize: UInt32, pageToken: String) async throws(AuthError) -> ListUsersResponse {
        let (users, next) = try await administration.listUsers(
            filter: filter,
            pageSize: Int(pageSize),
            pageToken: pageToken
        )
        let groups = try await administration.groups()
        let wire = users.map { user in
            AuthWire.User(user, groups: groups.filter { $0.hasMember(withRoles: user.roles) }.map(\.name))
        }
        return ListUsersResponse(users: wire, nextPageToken: next)
    }
}
