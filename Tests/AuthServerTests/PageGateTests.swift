import AuthClient
import AuthdTesting
import Testing

/// The car-rental example (README), set up over the wire; returns the tokens of a Premium
/// user and an Admin.
private func carRental(_ authd: TestAuthd) async throws -> (premium: String, admin: String) {
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
    func user(_ email: String, _ roles: [String]) async throws -> String {
        _ = try await admin.createUser(AuthV1.CreateUserRequest(email: email, password: AuthV1.StringValue(value: "car rental"), roles: roles))
        return try await authd.client.login(email, "car rental").session!.token
    }
    return (try await user("premium@cars.example", ["Premium"]), try await user("admin@cars.example", ["Admin"]))
}

@Suite("Page gating of hostile paths and the page settings")
struct PageGateTests {
    /// Spellings of admin pages that a router may read as the page itself.
    static let hostile = [
        "/cars/../admin/fleet", "/admin/./fleet", "//admin/fleet", "/admin//fleet", "/admin/fleet/",
        "/cars/%2e%2e/admin/fleet", "/%61dmin/fleet", "/admin%2Ffleet", "/admin;x=1/fleet", "/admin\\fleet",
        "/admin%5cfleet", "/../admin", "/%2e%2e/admin", "admin/fleet", "/admin%00", "/adm%69n",
        "/admin/fleet?x=1", "/premium/../admin/users", "/admin%3busers",
    ]

    @Test("no spelling of an admin page lets a visitor or a Premium user in")
    func hostilePaths() async throws {
        try await withTestAuthd { authd async throws in
            let (premium, admin) = try await carRental(authd)
            for path in Self.hostile {
                for token in ["", premium] {
                    do {
                        let answer = try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: path))
                        #expect(!answer.allowed, "\(path) was allowed for \(token.isEmpty ? "a visitor" : "a Premium user")")
                        #expect(answer.matchedRule.hasPrefix("/admin"), "\(path) matched \(answer.matchedRule)")
                    } catch let error as RPCError {
                        #expect(error.code == .invalidArgument, "\(path): \(error)")
                        #expect(error.fieldViolations.first?.field == "path")
                    }
                }
            }
            // The admin still gets the normalised pages it may see.
            let users = try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: admin, path: "/premium/../admin/users"))
            #expect(users.allowed && users.matchedRule == "/admin/*")
        }
    }

    @Test("a path no rule matches gets the unmatched_page_access setting")
    func unmatchedDefault() async throws {
        try await withTestAuthd { authd async throws in
            let (premium, _) = try await carRental(authd)
            let admin = authd.adminClient.admin
            func decide(_ token: String, _ path: String) async throws -> AuthV1.AuthorizePageResponse {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: token, path: path))
            }
            #expect(try await decide("", "/about").reason == .public)
            let settings = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(unmatchedPageAccess: .signedIn)).settings
            #expect(settings?.unmatchedPageAccess == .signedIn)
            let visitor = try await decide("", "/about")
            #expect(!visitor.allowed && visitor.reason == .notSignedIn && visitor.redirect == "/login" && visitor.matchedRule == "")
            #expect(try await decide(premium, "/about").reason == .signedIn)
            #expect(try await decide("", "/").allowed)  // a public rule still opens its page
            await expectRPCError(.invalidArgument) {
                try await admin.updateSettings(AuthV1.UpdateSettingsRequest(unmatchedPageAccess: .groups))
            }
        }
    }

    @Test("letter case matters unless the deployment says its router ignores it")
    func caseInsensitivity() async throws {
        try await withTestAuthd { authd async throws in
            let (premium, _) = try await carRental(authd)
            let admin = authd.adminClient.admin
            let before = try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: premium, path: "/ADMIN/users"))
            #expect(before.matchedRule == "")  // "/ADMIN" is another page by the URL standard
            _ = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(pagePathsCaseInsensitive: AuthV1.BoolValue(value: true)))
            let after = try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: premium, path: "/ADMIN/users"))
            #expect(!after.allowed && after.reason == .notInGroup && after.matchedRule == "/admin/*")
        }
    }

    @Test("redirects are paths on the app unless their origin is listed")
    func redirects() async throws {
        try await withTestAuthd { authd async throws in
            let admin = authd.adminClient.admin
            for bad in ["//evil.example/login", "/\\evil.example", "https://evil.example/login", "javascript:alert(1)", "login"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await admin.updateSettings(AuthV1.UpdateSettingsRequest(signInRedirect: AuthV1.StringValue(value: bad)))
                }
                #expect(error?.fieldViolations.first?.field == "sign_in_redirect", "\(bad)")
            }
            let listed = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(
                forbiddenRedirect: AuthV1.StringValue(value: "https://shop.example/upgrade"),
                redirectOrigins: AuthV1.StringList(values: ["https://shop.example"]))).settings
            #expect(listed?.forbiddenRedirect == "https://shop.example/upgrade")
            #expect(listed?.redirectOrigins == ["https://shop.example"])
            await expectRPCError(.invalidArgument) {
                try await admin.updateSettings(AuthV1.UpdateSettingsRequest(redirectOrigins: AuthV1.StringList(values: ["https://shop.example/path"])))
            }
            let ok = try await admin.updateSettings(AuthV1.UpdateSettingsRequest(signInRedirect: AuthV1.StringValue(value: "/sign-in?next=%2F")))
            #expect(ok.settings?.signInRedirect == "/sign-in?next=%2F")
        }
    }

    @Test("control characters: an encoded NUL is named as written, C1 controls are refused, patterns refuse DEL and C1")
    func controlCharacters() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await carRental(authd)
            let nul = await expectRPCError(.invalidArgument) {
                try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: "", path: "/admin%00"))
            }
            #expect(nul?.fieldViolations.first?.field == "path")
            #expect(nul?.message.contains("%00") == true, "\(String(describing: nul?.message))")
            for path in ["/adm%C2%80in/fleet", "/admin/%c2%9f", "/adm\u{85}in/fleet", "/admin/\u{9F}"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: "", path: path))
                }
                #expect(error?.fieldViolations.first?.field == "path", "\(path)")
            }
            // U+00A0 is not a control: an ordinary segment, public by default.
            #expect(try await authd.client.auth.authorizePage(AuthV1.AuthorizePageRequest(token: "", path: "/caf%C3%A9")).allowed)
            for pattern in ["/adm\u{7F}in", "/admin/\u{85}", "/\u{9F}/*"] {
                let error = await expectRPCError(.invalidArgument) {
                    try await authd.adminClient.admin.setPageRule(AuthV1.SetPageRuleRequest(
                        rule: AuthV1.PageRule(pattern: pattern, access: .signedIn)))
                }
                #expect(error?.fieldViolations.first?.field == "rule.pattern", "\(pattern.unicodeScalars.map(\.value))")
            }
        }
    }
}
