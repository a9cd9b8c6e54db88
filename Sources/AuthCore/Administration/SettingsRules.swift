/// What each setting accepts. Redirects are where a refused visitor's browser is sent, so
/// they are paths on the app ("/login"), never scheme-relative ("//evil.example") or
/// absolute URLs, unless the URL's origin is one the operator listed in `redirect_origins`:
/// an open redirect on a sign-in page is a phishing tool.
enum SettingsRules {
    static func check(_ changes: [Settings.Key: String], current: Settings) throws(AuthError) -> [Settings.Key: String] {
        var checked = changes
        // Origins first: a change may set redirects to an origin it allows in the same call.
        var origins = current.redirectOrigins
        if let value = changes[.redirectOrigins] {
            origins = try self.origins(value)
            checked[.redirectOrigins] = origins.joined(separator: " ")
        }
        for (key, value) in changes {
            let field = key.rawValue
            switch key {
            case .signInRedirect, .forbiddenRedirect:
                try checkRedirect(value, field: field, origins: origins)
            case .appBaseURL:
                guard value.isEmpty || origin(of: value) != nil, !hasControlOrSpace(value) else {
                    throw .invalidArgument("app_base_url must be an http(s) URL such as https://cars.example, or empty", field: field)
                }
            case .mailFrom:
                guard value.contains("@"), !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
                    throw .invalidArgument("mail_from must be an address such as \"Cars <no-reply@cars.example>\"", field: field)
                }
            case .appName:
                let trimmed = value.trimmingWhitespace()
                guard !trimmed.isEmpty, trimmed.count <= 100,
                    !trimmed.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
                else {
                    throw .invalidArgument("app_name must have 1 to 100 characters and no control characters", field: field)
                }
                checked[key] = trimmed
            case .unmatchedPageAccess:
                guard value == PageAccess.public.rawValue || value == PageAccess.signedIn.rawValue else {
                    throw .invalidArgument("unmatched_page_access must be PAGE_ACCESS_PUBLIC or PAGE_ACCESS_SIGNED_IN", field: field)
                }
            case .pagePathsCaseInsensitive:
                guard value == "true" || value == "false" else {
                    throw .invalidArgument("page_paths_case_insensitive must be true or false", field: field)
                }
            case .redirectOrigins:
                break  // checked above
            }
        }
        return checked
    }

    private static func checkRedirect(_ value: String, field: String, origins: [String]) throws(AuthError) {
        guard !hasControlOrSpace(value) else {
            throw .invalidArgument("\(field) has a space or control character", field: field)
        }
        if value.hasPrefix("/") {
            guard !value.hasPrefix("//"), !value.hasPrefix("/\\") else {
                throw .invalidArgument("\(field) must be a path on the app such as /login; //host is another site", field: field)
            }
            return
        }
        guard let origin = origin(of: value) else {
            throw .invalidArgument("\(field) must be a path on the app such as /login", field: field)
        }
        guard origins.contains(origin) else {
            throw .invalidArgument(
                "\(field) points to \(origin), which is not in redirect_origins; use a path such as /login or list the origin",
                field: field)
        }
    }

    /// "https://cars.example:8443/x" → "https://cars.example:8443"; nil when not http(s).
    static func origin(of url: String) -> String? {
        let lower = url.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") { scheme = "https://" } else if lower.hasPrefix("http://") { scheme = "http://" } else { return nil }
        let rest = lower.dropFirst(scheme.count)
        let host = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !host.isEmpty, !host.contains("@"), !host.contains("\\") else { return nil }
        return scheme + host
    }

    private static func origins(_ value: String) throws(AuthError) -> [String] {
        var result: [String] = []
        for part in value.split(whereSeparator: { $0 == " " || $0 == "," }) {
            guard let origin = origin(of: String(part)), origin == part.lowercased() else {
                throw .invalidArgument(
                    "redirect_origins must be origins such as https://shop.example (scheme and host, no path), separated by spaces",
                    field: "redirect_origins")
            }
            if !result.contains(origin) { result.append(origin) }
        }
        return result
    }

    private static func hasControlOrSpace(_ value: String) -> Bool {
        value.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F })
    }
}
