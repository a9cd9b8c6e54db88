import AuthClient
import AuthCore
import AuthdTesting
import Foundation
import Testing

/// The token check answers from the session cache after a session's first use; every
/// revoking or changing call must be seen by the very next call after it returned. Each
/// test therefore warms the cache before the change (`warm`: GetMe answered from the
/// encoded answer kept with the session), and checks right after.
@Suite("Session cache: revocation and changes are seen at the next call")
struct SessionCacheTests {
    @Test("logout: the logged-out token is refused, the user's other session is not")
    func logout() async throws {
        try await withTestAuthd { authd async throws in
            let first = try await authd.client.signUp("cache-logout@example.com").session!.token
            let second = try await authd.client.login("cache-logout@example.com", "correct horse").session!.token
            try await warm(authd, first)
            try await warm(authd, second)
            _ = try await authd.client.auth.logout(AuthV1.LogoutRequest(token: first))
            await expectRPCError(.unauthenticated) { try await authd.client.me(first) }
            _ = try await authd.client.me(second)
        }
    }

    @Test("a password change ends every other cached session; a reset ends all")
    func passwordChangeAndReset() async throws {
        try await withTestAuthd { authd async throws in
            let caller = try await authd.client.signUp("cache-pw@example.com", "first password").session!.token
            let other = try await authd.client.login("cache-pw@example.com", "first password").session!.token
            try await warm(authd, caller)
            try await warm(authd, other)
            _ = try await authd.client.auth.changePassword(AuthV1.ChangePasswordRequest(
                token: caller, oldPassword: "first password", newPassword: "second password"))
            await expectRPCError(.unauthenticated) { try await authd.client.me(other) }
            _ = try await authd.client.me(caller)

            _ = try await authd.client.auth.forgotPassword(AuthV1.ForgotPasswordRequest(email: "cache-pw@example.com"))
            let code = try #require(try await authd.lastCode(for: "cache-pw@example.com"))
            _ = try await authd.client.me(caller)
            _ = try await authd.client.auth.confirmPassword(AuthV1.ConfirmPasswordRequest(
                email: "cache-pw@example.com", code: code, newPassword: "third password"))
            await expectRPCError(.unauthenticated) { try await authd.client.me(caller) }
        }
    }

    @Test("an admin's password change ends the user's cached sessions")
    func adminPasswordChange() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await authd.client.signUp("cache-admin-pw@example.com")
            let token = response.session!.token
            try await warm(authd, token)
            _ = try await authd.adminClient.admin.updateUser(AuthV1.UpdateUserRequest(
                id: response.user!.id, password: AuthV1.StringValue(value: "set by admin")))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
        }
    }

    @Test("block refuses the cached session at once, for GetMe and for a signed-in page")
    func block() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.adminClient.admin.setPageRule(AuthV1.SetPageRuleRequest(
                rule: AuthV1.PageRule(pattern: "/cars/*", access: .signedIn)))
            let response = try await authd.client.signUp("cache-block@example.com")
            let token = response.session!.token
            func page() async throws -> Bool {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: "/cars/1")).allowed
            }
            try await warm(authd, token)
            for _ in 0..<3 { #expect(try await page()) }  // the third from the kept answer
            _ = try await authd.adminClient.admin.blockUser(AuthV1.UserIdRequest(id: response.user!.id))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
            #expect(try await !page())
        }
    }

    @Test("delete refuses the cached session at once")
    func delete() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await authd.client.signUp("cache-delete@example.com")
            let token = response.session!.token
            try await warm(authd, token)
            _ = try await authd.adminClient.admin.deleteUser(AuthV1.UserIdRequest(id: response.user!.id))
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
        }
    }

    @Test("a role taken from the user, a role deleted or renamed, a group's roles changed: the next call shows it")
    func rolesAndGroups() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            for role in ["Premium", "Staff", "Driver"] { _ = try await admin.createRole(AuthV1.RoleRequest(name: role)) }
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Premium", roles: ["Premium"]))
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(
                rule: AuthV1.PageRule(pattern: "/premium/*", access: .groups, groups: ["Premium"])))
            _ = try await admin.createUser(AuthV1.CreateUserRequest(
                email: "cache-roles@example.com", password: AuthV1.StringValue(value: "car rental"), roles: ["Premium", "Staff"]))
            let token = try await authd.client.login("cache-roles@example.com", "car rental").session!.token
            let id = try await authd.client.me(token).id
            func page() async throws -> Bool {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: "/premium/cars")).allowed
            }
            for _ in 0..<3 { #expect(try await page()) }  // the third from the kept answer
            #expect(try await authd.client.me(token).groups == ["Premium"])

            // Taken from the user.
            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: id, roles: AuthV1.StringList(values: ["Staff"])))
            #expect(try await !page())
            #expect(try await authd.client.me(token).roles == ["Staff"])

            // Given back; then the group asks for a role the user lacks.
            _ = try await admin.updateUser(AuthV1.UpdateUserRequest(id: id, roles: AuthV1.StringList(values: ["Premium", "Staff"])))
            for _ in 0..<3 { #expect(try await page()) }
            try await warm(authd, token)
            _ = try await admin.setGroupRoles(AuthV1.SetGroupRolesRequest(name: "Premium", roles: ["Driver", "Premium"]))
            #expect(try await authd.client.me(token).groups == [])
            #expect(try await !page())
            _ = try await admin.setGroupRoles(AuthV1.SetGroupRolesRequest(name: "Premium", roles: ["Premium"]))
            #expect(try await page())
            try await warm(authd, token)
            #expect(try await authd.client.me(token).groups == ["Premium"])

            // Renamed, then deleted: the role disappears from the cached user.
            _ = try await admin.renameRole(AuthV1.RenameRequest(name: "Staff", newName: "Crew"))
            #expect(try await authd.client.me(token).roles.sorted() == ["Crew", "Premium"])
            _ = try await admin.deleteRole(AuthV1.RoleRequest(name: "Crew"))
            #expect(try await authd.client.me(token).roles == ["Premium"])
            #expect(try await page())
        }
    }

    @Test("page answers kept per path: each path gets its own rule's answer, and a rule change is seen at once")
    func keptPageAnswers() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            _ = try await admin.createRole(AuthV1.RoleRequest(name: "Premium"))
            _ = try await admin.createGroup(AuthV1.CreateGroupRequest(name: "Premium", roles: ["Premium"]))
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(
                rule: AuthV1.PageRule(pattern: "/cars/*", access: .signedIn)))
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(
                rule: AuthV1.PageRule(pattern: "/premium/*", access: .groups, groups: ["Premium"])))
            let token = try await authd.client.signUp("cache-pages@example.com").session!.token
            func page(_ path: String) async throws -> AuthV1.AuthorizePageResponse {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: path))
            }
            for _ in 0..<3 { #expect(try await page("/cars/1").allowed) }
            let other = try await page("/cars/2")
            #expect(other.allowed && other.matchedRule == "/cars/*")
            for _ in 0..<3 { #expect(try await !page("/premium/1").allowed) }
            #expect(try await page("/cars/3").allowed)
            for _ in 0..<3 { #expect(try await page("/cars/3").matchedRule == "/cars/*") }
            // The rule changed: the kept answers were for the old rule set.
            _ = try await admin.setPageRule(AuthV1.SetPageRuleRequest(
                rule: AuthV1.PageRule(pattern: "/cars/*", access: .groups, groups: ["Premium"])))
            #expect(try await !page("/cars/1").allowed)
        }
    }

    @Test("a profile change is in the next GetMe")
    func profileChange() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("cache-profile@example.com", attributes: ["name": "Ada"]).session!.token
            #expect(try await authd.client.me(token).attributes == ["name": "Ada"])
            _ = try await authd.client.auth.updateProfile(AuthV1.UpdateProfileRequest(token: token, setAttributes: ["name": "Grace"]))
            #expect(try await authd.client.me(token).attributes == ["name": "Grace"])
            let id = try await authd.client.me(token).id
            _ = try await authd.adminClient.admin.updateUser(AuthV1.UpdateUserRequest(id: id, setAttributes: ["plan": "gold"]))
            #expect(try await authd.client.me(token).attributes == ["name": "Grace", "plan": "gold"])
        }
    }

    @Test("a cached session still expires on time: idle and absolute")
    func expiry() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("cache-expiry@example.com").session!.token
            try await warm(authd, token)
            authd.clock.advance(by: .seconds(7 * 24 * 3600 + 1))  // past the default idle timeout
            await expectRPCError(.unauthenticated) { try await authd.client.me(token) }
        }
    }

    @Test("the use recorded from the cache reaches the store: after a restart the session is still alive")
    func touchesAreWritten() async throws {
        let identity = IdentityConfiguration(
            sessions: SessionPolicy(idleTimeout: .seconds(600), absoluteTimeout: .seconds(3600), touchInterval: .seconds(60)))
        try await withTestAuthd(identity: identity) { authd async throws in
            let token = try await authd.client.signUp("cache-touch@example.com").session!.token
            _ = try await authd.client.me(token)
            authd.clock.advance(by: .seconds(500))
            _ = try await authd.client.me(token)  // served from the cache; the touch is noted
            // A restart flushes noted touches at shutdown and starts with an empty cache,
            // so the next check reads the store: the idle expiry there must have moved.
            try await authd.restart()
            authd.clock.advance(by: .seconds(500))  // 1000 s after sign-up, 500 after the touch
            _ = try await authd.client.me(token)
        }
    }

    @Test("a logout racing many checks of the same token: once it returned, every check is refused")
    func concurrentRevokeAndCheck() async throws {
        try await withTestAuthd { authd async throws in
            let token = try await authd.client.signUp("cache-race@example.com").session!.token
            try await warm(authd, token)
            for _ in 0..<5 {
                let fresh = try await authd.client.login("cache-race@example.com", "correct horse").session!.token
                _ = try await authd.client.me(fresh)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<32 {
                        group.addTask { _ = try? await authd.client.me(fresh) }
                    }
                    group.addTask {
                        _ = try await authd.client.auth.logout(AuthV1.LogoutRequest(token: fresh))
                        // Logout returned: no check may succeed from now on, whatever the
                        // checks still in flight put into the cache.
                        for _ in 0..<16 {
                            await expectRPCError(.unauthenticated) { try await authd.client.me(fresh) }
                        }
                    }
                    try await group.waitForAll()
                }
                await expectRPCError(.unauthenticated) { try await authd.client.me(fresh) }
            }
            _ = try await authd.client.me(token)
        }
    }
}

/// Three GetMe calls: the first loads the session into the cache, the second keeps its
/// encoded answer with it, the third is answered from that: a change after this must
/// reach the kept answer too.
private func warm(_ authd: TestAuthd, _ token: String) async throws {
    for _ in 0..<3 { _ = try await authd.client.me(token) }
}
