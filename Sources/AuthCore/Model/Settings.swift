/// The operator's settings, with defaults for what was never set.
public struct Settings: Hashable, Sendable {
    public enum Key: String, Hashable, Sendable, CaseIterable {
        case signInRedirect = "sign_in_redirect"
        case forbiddenRedirect = "forbidden_redirect"
        case appBaseURL = "app_base_url"
        case mailFrom = "mail_from"
        case appName = "app_name"
        case unmatchedPageAccess = "unmatched_page_access"
        case pagePathsCaseInsensitive = "page_paths_case_insensitive"
        case redirectOrigins = "redirect_origins"
    }

    public var signInRedirect: String
    public var forbiddenRedirect: String
    /// As the operator set it; empty when not set.
    public var appBaseURL: String
    public var mailFrom: String
    /// Named in the subject and body of every email.
    public var appName: String
    /// What a path that no page rule matches gets: `.public` (the default, as a no-code
    /// builder does it) or `.signedIn` (gate by default).
    public var unmatchedPageAccess: PageAccess
    /// Whether "/ADMIN" is the page "/admin" (for apps whose router ignores case). URLs are
    /// case-sensitive by their standard, so this is off unless the operator says so.
    public var pagePathsCaseInsensitive: Bool
    /// Origins ("https://shop.example") that redirects may point to besides paths on the
    /// app; empty: redirects are paths only.
    public var redirectOrigins: [String]

    public init(stored: [Key: String], defaults: Defaults) {
        signInRedirect = stored[.signInRedirect] ?? "/login"
        forbiddenRedirect = stored[.forbiddenRedirect] ?? "/"
        appBaseURL = stored[.appBaseURL] ?? ""
        mailFrom = stored[.mailFrom] ?? defaults.mailFrom
        appName = stored[.appName] ?? defaults.appName
        unmatchedPageAccess = stored[.unmatchedPageAccess].flatMap(PageAccess.init(rawValue:)) ?? .public
        pagePathsCaseInsensitive = stored[.pagePathsCaseInsensitive] == "true"
        redirectOrigins = (stored[.redirectOrigins] ?? "").split(separator: " ").map(String.init)
    }

    /// What settings an operator never set fall back to: the server's configuration.
    public struct Defaults: Hashable, Sendable {
        public var mailFrom: String
        public var appName: String

        public init(mailFrom: String, appName: String) {
            self.mailFrom = mailFrom
            self.appName = appName
        }
    }

    /// `appBaseURL` without trailing slashes, for building links.
    public var linkBase: String {
        var base = appBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
