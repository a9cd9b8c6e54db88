import AuthCore
import Testing

@Suite("Page paths: the normal form rules are matched against")
struct PagePathTests {
    /// The car-rental example's rules (README).
    static let carRental = [
        PageRule(pattern: "/", access: .public),
        PageRule(pattern: "/cars/:id", access: .signedIn),
        PageRule(pattern: "/premium/*", access: .groups, groups: ["Admin", "Premium"]),
        PageRule(pattern: "/admin/*", access: .groups, groups: ["Admin"]),
        PageRule(pattern: "/admin/fleet", access: .groups, groups: ["Admin Premium"]),
    ]

    @Test("spellings a router reads as an admin page are matched as that page", arguments: [
        ("/admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/cars/../admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/cars/1/../../admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin/./fleet", "/admin/fleet", "/admin/fleet"),
        ("//admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin//fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin/fleet/", "/admin/fleet", "/admin/fleet"),
        ("/admin/fleet//", "/admin/fleet", "/admin/fleet"),
        ("/cars/%2e%2e/admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/cars/%2E%2E/admin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin/%2e/fleet", "/admin/fleet", "/admin/fleet"),
        ("/%61dmin/fleet", "/admin/fleet", "/admin/fleet"),
        ("/adm%69n/%66leet", "/admin/fleet", "/admin/fleet"),
        ("/admin;x=1/fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin;/fleet;jsessionid=1", "/admin/fleet", "/admin/fleet"),
        ("/admin\\fleet", "/admin/fleet", "/admin/fleet"),
        ("/admin/fleet?as=guest#top", "/admin/fleet", "/admin/fleet"),
        ("/admin/fleet#", "/admin/fleet", "/admin/fleet"),
        ("/admin", "/admin", "/admin/*"),
        ("/admin/", "/admin", "/admin/*"),
        ("/admin/users/7", "/admin/users/7", "/admin/*"),
        ("/admin/fl%C3%A9et", "/admin/fl\u{e9}et", "/admin/*"),
        ("/premium/../admin", "/admin", "/admin/*"),
    ] as [(String, String, String)])
    func normalised(raw: String, normal: String, rule: String) throws {
        let path = try PagePath(raw)
        #expect(path.description == normal)
        #expect(PagePattern.bestRule(for: path, in: Self.carRental)?.pattern == rule)
    }

    @Test("paths no router agrees on are refused with INVALID_ARGUMENT on field path", arguments: [
        ("admin/fleet", "absolute"),
        ("", "absolute"),
        ("%2fadmin", "absolute"),
        ("\\admin\\fleet", "absolute"),
        ("/../admin", "climbs above /"),
        ("/cars/../../admin", "climbs above /"),
        ("/%2e%2e/admin", "climbs above /"),
        ("/admin%2Ffleet", "encoded delimiter"),
        ("/admin%2ffleet", "encoded delimiter"),
        ("/admin%5Cfleet", "encoded delimiter"),
        ("/admin%3Bx/fleet", "encoded delimiter"),
        ("/admin%3Ffleet", "encoded delimiter"),
        ("/admin%23fleet", "encoded delimiter"),
        ("/admin%00/fleet", "encoded delimiter or control"),
        ("/admin%0a", "encoded delimiter or control"),
        ("/admin\u{0}/fleet", "control character"),
        ("/admin\n", "control character"),
        ("/admin%zz", "two hex digits"),
        ("/admin%2", "two hex digits"),
        ("/admin%", "two hex digits"),
        ("/admin%C3", "UTF-8"),
        ("/" + String(repeating: "a", count: 2048), "2048"),
    ] as [(String, String)])
    func refused(raw: String, reason: String) {
        let error = #expect(throws: AuthError.self) { try PagePath(raw) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.field == "path")
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }

    @Test("letter case: distinct pages unless the deployment says its router ignores case")
    func letterCase() throws {
        let sensitive = try PagePath("/ADMIN/Fleet")
        #expect(sensitive.description == "/ADMIN/Fleet")
        #expect(PagePattern.bestRule(for: sensitive, in: Self.carRental)?.pattern == nil)
        let insensitive = try PagePath("/ADMIN/Fleet", caseInsensitive: true)
        #expect(PagePattern.bestRule(for: insensitive, in: Self.carRental)?.pattern == "/admin/fleet")
        // A rule written with capitals matches any case too.
        let rules = [PageRule(pattern: "/Admin/*", access: .groups, groups: ["Admin"])]
        #expect(PagePattern.bestRule(for: try PagePath("/admin/x", caseInsensitive: true), in: rules)?.pattern == "/Admin/*")
        #expect(PagePattern.bestRule(for: try PagePath("/admin/x"), in: rules) == nil)
    }

    @Test("patterns are written in the decoded normal form", arguments: [
        ("/admin/%66leet", "%"),
        ("/admin;x", ";"),
        ("/admin\\fleet", ";"),
        ("/admin/../x", ". or .."),
        ("/./admin", ". or .."),
    ] as [(String, String)])
    func patternsInNormalForm(pattern: String, reason: String) {
        let error = #expect(throws: AuthError.self) { try PagePattern.validate(pattern) }
        #expect(error?.message.contains(reason) == true, "\(error?.message ?? "")")
    }
}
