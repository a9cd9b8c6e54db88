import AuthClient
import AuthdTesting
import Foundation
import Testing
import AuthServer

@Suite("API keys")
struct APIKeyTests {
    @Test("the first start writes one admin key to a 0600 file; later starts do not")
    func firstAdminKey() async throws {
        try await withTestAuthd { authd async throws in
            let path = authd.directory.appendingPathComponent("authd.sqlite.admin-key").path
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            #expect(authd.adminKey.hasPrefix("authd_ak_"))
            #expect(try await authd.server.createFirstAdminKeyIfNeeded() == nil)
            let keys = try await authd.adminClient.admin.listApiKeys(AuthV1.Empty()).keys
            #expect(keys.map(\.name) == ["first admin"])
            #expect(keys.first?.scope == .admin)
        }
    }

    @Test("a method added to the Admin service later is guarded by the admin key without code of its own")
    func newAdminMethodIsGuarded() async throws {
        let backdoor = MethodDescriptor<AuthV1.Empty, AuthV1.StringValue>(service: AdminService.name, method: "Backdoor")
        try await withTestAuthd(registeringMore: { router in
            router.register(backdoor) { _, _ in AuthV1.StringValue(value: "opened") }
        }) { authd async throws in
            let none = await expectRPCError(.unauthenticated) { try await authd.client.connection.call(backdoor, AuthV1.Empty()) }
            #expect(none?.message.contains("scope admin") == true)
            let mailerKey = try await authd.adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "m", scope: .mailer)).secret
            await expectRPCError(.permissionDenied) { try await authd.client(key: mailerKey).connection.call(backdoor, AuthV1.Empty()) }
            #expect(try await authd.adminClient.connection.call(backdoor, AuthV1.Empty()).value == "opened")
        }
    }

    @Test("no key, a garbage key, an unknown key: UNAUTHENTICATED")
    func missingKeys() async throws {
        try await withTestAuthd { authd async throws in
            let none = await expectRPCError(.unauthenticated) { try await authd.client.admin.listRoles(AuthV1.Empty()) }
            #expect(none?.message.contains("needs an API key of scope admin") == true)
            await expectRPCError(.unauthenticated) { try await authd.client(key: "letmein").admin.listRoles(AuthV1.Empty()) }
            let unknown = await expectRPCError(.unauthenticated) {
                try await authd.client(key: "authd_ak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").admin.listRoles(AuthV1.Empty())
            }
            #expect(unknown?.message == "API key is not known")
        }
    }

    @Test("a key of the wrong scope is PERMISSION_DENIED; a revoked key UNAUTHENTICATED")
    func scopesAndRevocation() async throws {
        try await withTestAuthd { authd async throws in
            let created = try await authd.adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "mailer 1", scope: .mailer))
            #expect(created.secret.hasPrefix("authd_ak_"))
            let mailer = authd.client(key: created.secret)
            let denied = await expectRPCError(.permissionDenied) { try await mailer.admin.listRoles(AuthV1.Empty()) }
            #expect(denied?.message == "API key 'mailer 1' has scope mailer; this call needs scope admin")

            let second = try await authd.adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "ops", scope: .admin))
            let ops = authd.client(key: second.secret)
            _ = try await ops.admin.listRoles(AuthV1.Empty())
            _ = try await authd.adminClient.admin.revokeApiKey(AuthV1.RevokeApiKeyRequest(id: second.key!.id))
            let revoked = await expectRPCError(.unauthenticated) { try await ops.admin.listRoles(AuthV1.Empty()) }
            #expect(revoked?.message.contains("was revoked") == true)
            await expectRPCError(.notFound) { try await authd.adminClient.admin.revokeApiKey(AuthV1.RevokeApiKeyRequest(id: second.key!.id)) }
            let listed = try await authd.adminClient.admin.listApiKeys(AuthV1.Empty()).keys
            #expect(listed.first { $0.id == second.key!.id }?.revoked == true)
            await expectRPCError(.invalidArgument) { try await authd.adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "x")) }
        }
    }

    @Test("a key name with a control or bidi character is refused, naming the field, and no key is made")
    func keyNamesWithControlCharacters() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let before = try await admin.listApiKeys(AuthV1.Empty()).keys.count
            for name in ["ops\nkey created name=root", "ops\r", "a\u{1B}[31mred", "a\tb", "bell\u{7}", "del\u{7F}", "c1\u{85}", "c1\u{9B}31m", "rtl\u{202E}txt"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await admin.createApiKey(AuthV1.CreateApiKeyRequest(name: name, scope: .service))
                }
                #expect(error?.fieldViolations.first?.field == "name", "\(name.unicodeScalars.map(\.value))")
            }
            #expect(try await admin.listApiKeys(AuthV1.Empty()).keys.count == before)
            // Unicode letters and spaces are fine.
            _ = try await admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "  Zoë's mailer  ", scope: .mailer))
            #expect(try await admin.listApiKeys(AuthV1.Empty()).keys.contains { $0.name == "Zoë's mailer" })
        }
    }
}

@Suite("Administering users")
struct AdminUserTests {
    @Test("create with a password by hand or generated (shown once); get by id and by email")
    func createAndGet() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let manual = try await admin.createUser(AuthV1.CreateUserRequest(email: "Hand@Example.com", attributes: ["name": "Hand"], password: AuthV1.StringValue(value: "set by hand")))
            #expect(manual.generatedPassword.isEmpty)
            _ = try await authd.client.login("hand@example.com", "set by hand")

            let generated = try await admin.createUser(AuthV1.CreateUserRequest(email: "gen@example.com", generatePassword: true))
            #expect(generated.generatedPassword.count >= 20)
            _ = try await authd.client.login("gen@example.com", generated.generatedPassword)

            let none = try await admin.createUser(AuthV1.CreateUserRequest(email: "nopass@example.com"))
            #expect(none.user?.hasPassword == false)
            await expectRPCError(.unauthenticated) { try await authd.client.login("nopass@example.com", "anything1") }

            let byID = try await admin.getUser(AuthV1.GetUserRequest(id: manual.user!.id)).user
            let byEmail = try await admin.getUser(AuthV1.GetUserRequest(email: "HAND@example.com")).user
            #expect(byID == byEmail)
            #expect(byID?.attributes == ["name": "Hand"])

            await expectRPCError(.alreadyExists) { try await admin.createUser(AuthV1.CreateUserRequest(email: "hand@EXAMPLE.com")) }
            await expectRPCError(.notFound) { try await admin.getUser(AuthV1.GetUserRequest(id: UUID().uuidString)) }
            await expectRPCError(.invalidArgument) { try await admin.getUser(AuthV1.GetUserRequest(id: "x", email: "y@example.com")) }
            await expectRPCError(.invalidArgument) {
                try await admin.createUser(AuthV1.CreateUserRequest(email: "short@example.com", password: AuthV1.StringValue(value: "12345")))
            }
            let unknownRole = await expectRPCError(.invalidArgument) {
                try await admin.createUser(AuthV1.CreateUserRequest(email: "role@example.com", roles: ["Nope"]))
            }
            #expect(unknownRole?.fieldViolations.first?.field == "roles")
        }
    }

    @Test("list filters by email prefix, role, group and blocked, in stable pages")
    func list() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Staff"))
            for index in 0..<25 {
                let email = String(format: "user%02d@example.com", index)
                _ = try await admin.createUser(AuthV1.CreateUserRequest(email: email, roles: index % 5 == 0 ? ["Staff"] : []))
            }
            _ = try await admin.createUser(AuthV1.CreateUserRequest(email: "other@example.com"))

            var seen: [String] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await admin.listUsers(AuthV1.ListUsersRequest(emailPrefix: "USER", pageSize: 10, pageToken: token))
                seen += page.users.map(\.email)
                token = page.nextPageToken
                pages += 1
            } while !token.isEmpty
            #expect(pages == 3)
            #expect(seen == (0..<25).map { String(format: "user%02d@example.com", $0) })

            let staff = try await admin.listUsers(AuthV1.ListUsersRequest(role: "Staff")).users.map(\.email)
            #expect(staff == ["user00@example.com", "user05@example.com", "user10@example.com", "user15@example.com", "user20@example.com"])

            let user = try await admin.getUser(AuthV1.GetUserRequest(email: "user03@example.com")).user!
            _ = try await admin.blockUser(AuthV1.UserIdRequest(id: user.id))
            #expect(try await admin.listUsers(AuthV1.ListUsersRequest(blocked: AuthV1.BoolValue(value: true))).users.map(\.email) == ["user03@example.com"])
            #expect(try await admin.listUsers(AuthV1.ListUsersRequest(blocked: AuthV1.BoolValue(value: false))).users.count == 25)

            await expectRPCError(.invalidArgument) { try await admin.listUsers(AuthV1.ListUsersRequest(pageSize: 1001)) }
            await expectRPCError(.invalidArgument) { try await admin.listUsers(AuthV1.ListUsersRequest(pageToken: "%%%")) }
        }
    }

    @Test("update email, attributes, roles and password; a new password ends every session")
    func update() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Premium"))
            let signedUp = try await authd.client.signUp("edit@example.com", attributes: ["name": "Ed", "city": "Oslo"])
            let id = signedUp.user!.id
            let token = signedUp.session!.token

            let updated = try await admin.updateUser(
                AuthV1.UpdateUserRequest(id: id, email: AuthV1.StringValue(value: "Edited@example.com"), setAttributes: ["name": "Edd"], removeAttributes: ["city"], roles: AuthV1.StringList(values: ["Premium"]))
            ).user
            #expect(updated?.email == "edited@example.com")
            #expect(updated?.attributes == ["name": "Edd"])
            #expect(updated?.roles == ["Premium"])
            #expect(try await authd.client.me(token).roles == ["Premium"])  // the session lives on: no password change

            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: id, password: AuthV1.StringValue(value: "new by admin")))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            _ = try await authd.client.login("edited@example.com", "new by admin")

            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: id, roles: AuthV1.StringList(values: [])))
            #expect(try await admin.getUser(AuthV1.GetUserRequest(id: id)).user?.roles == [])
            await expectRPCError(.notFound) { try await admin.updateUser(AuthV1.UpdateUserRequest(id: UUID().uuidString)) }
        }
    }

    @Test("block ends sessions at once, unblock lets the user back, delete removes the user")
    func blockUnblockDelete() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let signedUp = try await authd.client.signUp("blockme@example.com")
            let id = signedUp.user!.id
            let blocked = try await admin.blockUser(AuthV1.UserIdRequest(id: id)).user
            #expect(blocked?.blocked == true)
            await expectRPCError(.unauthenticated) { try await authd.client.me(signedUp.session!.token) }
            await expectRPCError(.permissionDenied) { try await authd.client.login("blockme@example.com", "correct horse") }

            _ = try await admin.unblockUser(AuthV1.UserIdRequest(id: id))
            let again = try await authd.client.login("blockme@example.com", "correct horse")
            // The sessions a block ended stay ended.
            await expectRPCError(.unauthenticated) { try await authd.client.me(signedUp.session!.token) }

            _ = try await admin.deleteUser(AuthV1.UserIdRequest(id: id))
            await expectRPCError(.unauthenticated) { try await authd.client.me(again.session!.token) }
            await expectRPCError(.notFound) { try await admin.getUser(AuthV1.GetUserRequest(id: id)) }
            await expectRPCError(.notFound) { try await admin.deleteUser(AuthV1.UserIdRequest(id: id)) }
        }
    }
}

@Suite("Roles, groups and page gating")
struct RolesGroupsPagesTests {
    @Test("roles: duplicates, rename, delete; a role a group uses cannot be deleted")
    func roles() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Admin"))
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Editor"))
            await expectRPCError(.alreadyExists) { try await admin.createRole(AuthV1.RoleRequest(name: "Admin")) }
            await expectRPCError(.invalidArgument) { try await admin.createRole(AuthV1.RoleRequest(name: "bad/name")) }
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Admins", roles: ["Admin"]))
            await expectRPCError(.alreadyExists) { try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Admins", roles: ["Admin"])) }

            let refused = await expectRPCError(.failedPrecondition) { try await admin.deleteRole(AuthV1.RoleRequest(name: "Admin")) }
            #expect(refused?.message.contains("Admins") == true)

            let user = try await authd.client.signUp("editor@example.com")
            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: user.user!.id, roles: AuthV1.StringList(values: ["Editor"])))
            let renamed = try await admin.renameRole(AuthV1.RenameRequest(name: "Editor", newName: "Writer"))
            #expect(renamed.name == "Writer")
            #expect(renamed.userCount == 1)
            #expect(try await authd.client.me(user.session!.token).roles == ["Writer"])
            await expectRPCError(.alreadyExists) { try await admin.renameRole(AuthV1.RenameRequest(name: "Writer", newName: "Admin")) }
            _ = try await admin.deleteRole(AuthV1.RoleRequest(name: "Writer"))
            #expect(try await authd.client.me(user.session!.token).roles == [])
            await expectRPCError(.notFound) { try await admin.deleteRole(AuthV1.RoleRequest(name: "Writer")) }
            #expect(try await admin.listRoles(AuthV1.Empty()).roles.map(\.name) == ["Admin"])
        }
    }

    /// The car-rental example of the README: roles Admin and Premium, groups Admin,
    /// Premium and "Admin Premium", and pages gated by them.
    @Test("car rental: what a visitor, a Premium user, an Admin and an Admin+Premium user may see")
    func carRental() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            for role in ["Admin", "Premium"] {
                _ = try await admin.createRole(AuthV1.RoleRequest(name: role))
            }
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Admin", roles: ["Admin"]))
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Premium", roles: ["Premium"]))
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Admin Premium", roles: ["Premium", "Admin"]))
            let rules: [(String, AuthV1.PageAccess, [String])] = [
                ("/", .public, []),
                ("/cars/:id", .signedIn, []),
                ("/premium/*", .groups, ["Premium", "Admin"]),
                ("/admin/*", .groups, ["Admin"]),
                ("/admin/fleet", .groups, ["Admin Premium"]),
            ]
            for (pattern, access, groups) in rules {
                _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: pattern, access: access, groups: groups)))
            }
            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(signInRedirect: AuthV1.StringValue(value: "/login"), forbiddenRedirect: AuthV1.StringValue(value: "/upgrade")))

            func user(_ email: String, _ roles: [String]) async throws -> String {
                let created = try await admin.createUser(AuthV1.CreateUserRequest(email: email, password: AuthV1.StringValue(value: "car rental"), roles: roles))
                #expect(created.user?.roles == roles.sorted())
                return try await authd.client.login(email, "car rental").session!.token
            }
            let premium = try await user("premium@cars.example", ["Premium"])
            let adminUser = try await user("admin@cars.example", ["Admin"])
            let both = try await user("both@cars.example", ["Admin", "Premium"])

            #expect(try await authd.client.me(premium).groups == ["Premium"])
            #expect(try await authd.client.me(adminUser).groups == ["Admin"])
            #expect(try await authd.client.me(both).groups == ["Admin", "Admin Premium", "Premium"])
            let members = try await admin.listGroupMembers(AuthV1.ListGroupMembersRequest(name: "Admin Premium")).users.map(\.email)
            #expect(members == ["both@cars.example"])
            // docs/protocol.md: an unknown group is NOT_FOUND on ListGroupMembers' own field, `name`.
            let unknown = await expectRPCError(.notFound) {
                try await admin.listGroupMembers(AuthV1.ListGroupMembersRequest(name: "Nobody"))
            }
            #expect(unknown?.fieldViolations.first?.field == "name")
            let filtered = await expectRPCError(.notFound) { try await admin.listUsers(AuthV1.ListUsersRequest(group: "Nobody")) }
            #expect(filtered?.fieldViolations.first?.field == "group")

            func decide(_ token: String, _ path: String) async throws -> AuthV1.AuthorizePageResponse {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: path))
            }
            // A visitor.
            #expect(try await decide("", "/").allowed)
            #expect(try await decide("", "/about").reason == .public)  // no rule: public
            let visitorCar = try await decide("", "/cars/7")
            #expect(!visitorCar.allowed && visitorCar.reason == .notSignedIn && visitorCar.redirect == "/login")
            #expect(try await decide("", "/premium/deals").redirect == "/login")
            #expect(try await decide("authd_st_expired-or-forged", "/cars/7").reason == .notSignedIn)
            // A Premium user.
            #expect(try await decide(premium, "/cars/7").reason == .signedIn)
            #expect(try await decide(premium, "/premium/deals").reason == .groupMember)
            let premiumAdmin = try await decide(premium, "/admin/users")
            #expect(!premiumAdmin.allowed && premiumAdmin.reason == .notInGroup && premiumAdmin.redirect == "/upgrade")
            #expect(premiumAdmin.matchedRule == "/admin/*")
            // An Admin.
            #expect(try await decide(adminUser, "/premium/deals").allowed)  // Admin is one of the page's groups
            #expect(try await decide(adminUser, "/admin/users").allowed)
            let fleet = try await decide(adminUser, "/admin/fleet")
            #expect(!fleet.allowed && fleet.matchedRule == "/admin/fleet")
            // Admin + Premium.
            #expect(try await decide(both, "/admin/fleet").reason == .groupMember)
            #expect(try await decide(both, "/admin/users").allowed)

            // Taking Premium away from "both" takes the fleet page away at once.
            let bothID = try await admin.getUser(AuthV1.GetUserRequest(email: "both@cars.example")).user!.id
            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: bothID, roles: AuthV1.StringList(values: ["Admin"])))
            #expect(try await decide(both, "/admin/fleet").allowed == false)

            // Changes reach the very next call (groups and rules are cached in the process).
            _ = try await admin.setGroupRoles(AuthV1.SetGroupRolesRequest(name: "Premium", roles: ["Admin"]))
            #expect(try await authd.client.me(premium).groups == [])
            #expect(try await decide(premium, "/premium/deals").allowed == false)
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "/premium/*", access: .public)))
            #expect(try await decide(premium, "/premium/deals").reason == .public)
            _ = try await admin.renameGroup(AuthV1.RenameRequest(name: "Admin Premium", newName: "Fleet"))
            #expect(try await decide(adminUser, "/admin/fleet").allowed == false)
            #expect(try await admin.listPageRules(AuthV1.Empty()).rules.first { $0.pattern == "/admin/fleet" }?.groups == ["Fleet"])

            await expectRPCError(.invalidArgument) { try await decide("", "no-slash") }
            let rules2 = try await admin.listPageRules(AuthV1.Empty()).rules.map(\.pattern)  // after the changes above
            #expect(rules2 == ["/", "/admin/*", "/admin/fleet", "/cars/:id", "/premium/*"])
        }
    }

    @Test("bad page rules and settings are refused, naming the field")
    func badRules() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            let noGroups = await expectRPCError(.invalidArgument) {
                try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "/x", access: .groups)))
            }
            #expect(noGroups?.fieldViolations.first?.field == "rule.groups")
            let unknownGroup = await expectRPCError(.invalidArgument) {
                try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "/x", access: .groups, groups: ["Ghosts"])))
            }
            #expect(unknownGroup?.fieldViolations.first?.field == "rule.groups")
            await expectRPCError(.invalidArgument) {
                try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "x/*", access: .public)))
            }
            await expectRPCError(.invalidArgument) {
                try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "/x", access: .unspecified)))
            }
            await expectRPCError(.invalidArgument) { try await admin.setPageRule(AuthV1.SetPageRuleRequest()) }
            await expectRPCError(.notFound) { try await admin.deletePageRule(AuthV1.PageRuleRequest(pattern: "/nothing")) }
            let badRedirect = await expectRPCError(.invalidArgument) {
                try await admin.updateSettings(AuthV1.UpdateSettingsRequest(signInRedirect: AuthV1.StringValue(value: "javascript:alert(1)")))
            }
            #expect(badRedirect?.fieldViolations.first?.field == "sign_in_redirect")
            let settings = try await admin.getSettings(AuthV1.Empty()).settings
            #expect(settings?.signInRedirect == "/login")
        }
    }

    @Test("remove everything needs the exact confirmation")
    func removeEverything() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Admin"))
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Admins", roles: ["Admin"]))
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(rule: AuthV1.PageRule(pattern: "/admin/*", access: .groups, groups: ["Admins"])))
            let token = try await authd.client.signUp("doomed@example.com").session!.token
            _ = try await authd.client.signUp("doomed2@example.com")

            let refused = await expectRPCError(.invalidArgument) {
                try await admin.removeEverything(AuthV1.RemoveEverythingRequest(confirmation: "yes"))
            }
            #expect(refused?.fieldViolations.first?.field == "confirmation")
            #expect(try await admin.listUsers(AuthV1.ListUsersRequest()).users.count == 2)

            let counts = try await admin.removeEverything(AuthV1.RemoveEverythingRequest(confirmation: "REMOVE EVERYTHING"))
            #expect(counts.usersRemoved == 2 && counts.rolesRemoved == 1 && counts.groupsRemoved == 1 && counts.pageRulesRemoved == 1)
            #expect(try await admin.listUsers(AuthV1.ListUsersRequest()).users.isEmpty)
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            // The operator's key survives.
            _ = try await admin.listRoles(AuthV1.Empty())
        }
    }
}

@Suite("Service key on Auth")
struct ServiceKeyTests {
    @Test("with --require-service-key, Auth calls need a service-scope key")
    func requireServiceKey() async throws {
        try await withTestAuthd(requireServiceKey: true) { authd async throws in
            let error = await expectRPCError(.unauthenticated) { try await authd.client.signUp("svc@example.com") }
            #expect(error?.message.contains("scope service") == true)
            await expectRPCError(.permissionDenied) { try await authd.adminClient.signUp("svc@example.com") }
            let key = try await authd.adminClient.admin.createApiKey(AuthV1.CreateApiKeyRequest(name: "web backend", scope: .service)).secret
            _ = try await authd.client(key: key).signUp("svc@example.com")
            // Health never needs a key.
            _ = try await authd.client.health.check(AuthV1.HealthCheckRequest())
        }
    }
}
