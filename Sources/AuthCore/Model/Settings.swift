/// The operator's settings, with defaults for what was never set.
public struct Settings: Hashable, Sendable {
    public enum Key: String, Hashable, Sendable, CaseIterable {
        case signInRedirect = "sign_in_redirect"
        case forbiddenRedirect = "forbidden_redirect"
        case appBaseURL = "app_base_url"
        case mailFrom = "mail_from"
    }

    public var signInRedirect: String
    public var forbiddenRedirect: String
    /// As the operator set it; empty when not set.
    public var appBaseURL: String
    public var mailFrom: String

    public init(stored: [Key: String], defaultMailFrom: String) {
        signInRedirect = stored[.signInRedirect] ?? "/login"
        forbiddenRedirect = stored[.forbiddenRedirect] ?? "/"
        appBaseURL = stored[.appBaseURL] ?? ""
        mailFrom = stored[.mailFrom] ?? defaultMailFrom
    }

    /// `appBaseURL` without trailing slashes, for building links.
    public var linkBase: String {
        var base = appBaseURL
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }
}
