import ArgumentParser
import AuthClient

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users",
        abstract: "Create, find, change, block and delete users.",
        subcommands: [
            UsersAdd.self, UsersGet.self, UsersList.self, UsersUpdate.self, UsersSetRoles.self,
            UsersBlock.self, UsersUnblock.self, UsersDelete.self, UsersResendInvitation.self,
            UsersImport.self, UsersExport.self,
        ]
    )
}

struct UsersAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Create a user.",
        discussion: "A generated password is printed once; it cannot be read back later."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The user's email address.")
    var email: String

    @Option(name: .customLong("attr"), help: ArgumentHelp("An attribute; repeat for more.", valueName: "key=value"))
    var attributes: [String] = []

    @Option(help: ArgumentHelp("The password (\"-\" reads it from standard input).", valueName: "password"))
    var password: String?

    @Flag(help: "Generate a password and print it once.")
    var generatePassword = false

    @Option(name: .customLong("role"), help: ArgumentHelp("A role to give; repeat for more.", valueName: "role"))
    var roles: [String] = []

    @Flag(help: "Email the user an invitation to choose a password.")
    var invite = false

    func validate() throws {
        if password != nil, generatePassword {
            throw ValidationError("give --password or --generate-password, not both")
        }
        _ = try parseAssignments(attributes, option: "--attr")
    }

    func run() async throws {
        var request = AuthV1.CreateUserRequest(
            email: email,
            attributes: try parseAssignments(attributes, option: "--attr"),
            generatePassword: generatePassword,
            roles: roles,
            sendInvitation: invite)
        if let password {
            request.password = AuthV1.StringValue(value: try resolvePassword(password))
        }
        let (user, generated) = try await global.withAdmin { admin in
            let response = try await admin.createUser(request)
            return (try requireUser(response.user), response.generatedPassword)
        }
        var members: [(String, JSON)] = [("user", user.json)]
        if !generated.isEmpty { members.append(("generated_password", .string(generated))) }
        global.emit(
            json: .object(members),
            text: user.text + (generated.isEmpty ? "" : "\n\nGenerated password (shown once, store it now): \(generated)"))
    }
}

struct UsersGet: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Show a user by id, or by email when the argument contains \"@\"."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id or email.", valueName: "id-or-email"))
    var idOrEmail: String

    func run() async throws {
        let request = idOrEmail.contains("@") ? AuthV1.GetUserRequest(email: idOrEmail) : AuthV1.GetUserRequest(id: idOrEmail)
        let user = try await global.withAdmin { admin in
            try requireUser(try await admin.getUser(request).user)
        }
        global.emit(json: .object([("user", user.json)]), text: user.text)
    }
}

/// The paging options of every listing (users list, groups members, mail dead).
struct PageOptions: ParsableArguments {
    @Option(help: ArgumentHelp("How many a page (at most 1000; the server's default is 100).", valueName: "n"))
    var pageSize: UInt32?

    @Option(help: ArgumentHelp("Start at this page (from a previous listing).", valueName: "token"))
    var pageToken: String?

    @Flag(help: "Follow the pages to the end.")
    var all = false

    /// Fetches the page asked for, or with `--all` every page from there to the end;
    /// `fetch` gets the page size (0: the server's default) and the page token.
    func collect<Item>(
        _ fetch: (_ pageSize: UInt32, _ pageToken: String) async throws -> (items: [Item], nextPageToken: String)
    ) async throws -> (items: [Item], nextPageToken: String) {
        try await collectPages(pageToken: pageToken, all: all) { token in try await fetch(pageSize ?? 0, token) }
    }
}

/// Pages through a listing; with `all`, follows next_page_token to the end.
func collectPages<Item>(
    pageToken: String?, all: Bool,
    _ fetch: (String) async throws -> (items: [Item], nextPageToken: String)
) async throws -> (items: [Item], nextPageToken: String) {
    var items: [Item] = []
    var token = pageToken ?? ""
    var seen: Set<String> = []
    while true {
        let page = try await fetch(token)
        items += page.items
        token = page.nextPageToken
        guard all, !token.isEmpty else { break }
        guard seen.insert(token).inserted else {
            throw RPCError(code: .internal, message: "the server returned page token \(token) twice")
        }
    }
    return (items, token)
}

func usersListing(_ users: [AuthV1.User], nextPageToken: String) -> (JSON, String) {
    let json = JSON.object([("users", .array(users.map(\.json))), ("next_page_token", .string(nextPageToken))])
    var text = usersTable(users)
    if users.isEmpty { text += "\n(none)" }
    text += moreHint(nextPageToken: nextPageToken)
    return (json, text)
}

/// A user's id: an argument containing "@" is an email (ids never contain one), looked up
/// with GetUser; anything else is taken as the id.
func userID(_ idOrEmail: String, admin: AdminService.Client) async throws -> String {
    guard idOrEmail.contains("@") else { return idOrEmail }
    return try requireUser(try await admin.getUser(AuthV1.GetUserRequest(email: idOrEmail)).user).id
}

struct UsersList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List users, filtered and a page at a time (or --all)."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Option(help: ArgumentHelp("Only emails starting with this.", valueName: "prefix"))
    var emailPrefix: String?

    @Option(help: ArgumentHelp("Only users holding this role.", valueName: "role"))
    var role: String?

    @Option(help: ArgumentHelp("Only members of this group.", valueName: "group"))
    var group: String?

    @Option(help: ArgumentHelp("Only blocked (true) or unblocked (false) users.", valueName: "true|false"))
    var blocked: Bool?

    @OptionGroup var paging: PageOptions

    func run() async throws {
        let base = AuthV1.ListUsersRequest(
            emailPrefix: emailPrefix ?? "", role: role ?? "", group: group ?? "",
            blocked: blocked.map { AuthV1.BoolValue(value: $0) })
        let (users, next) = try await global.withAdmin { admin in
            try await paging.collect { size, token in
                var request = base
                request.pageSize = size
                request.pageToken = token
                let page = try await admin.listUsers(request)
                return (page.users, page.nextPageToken)
            }
        }
        let (json, text) = usersListing(users, nextPageToken: next)
        global.emit(json: json, text: text)
    }
}

struct UsersUpdate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Change a user's email, attributes, password or roles.",
        discussion: "A new password signs the user out everywhere. --roles \"\" removes every role."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    @Option(help: ArgumentHelp("A new email address.", valueName: "email"))
    var email: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Set an attribute; repeat for more.", valueName: "key=value"))
    var set: [String] = []

    @Option(name: .customLong("unset"), help: ArgumentHelp("Remove an attribute; repeat for more.", valueName: "key"))
    var unset: [String] = []

    @Option(help: ArgumentHelp("A new password (\"-\" reads it from standard input).", valueName: "password"))
    var password: String?

    @Option(help: ArgumentHelp("The user's roles, exactly these, comma-separated.", valueName: "a,b,c"))
    var roles: String?

    func validate() throws {
        if email == nil, set.isEmpty, unset.isEmpty, password == nil, roles == nil {
            throw ValidationError("nothing to change: give --email, --set, --unset, --password or --roles")
        }
        _ = try parseAssignments(set, option: "--set")
    }

    func run() async throws {
        var request = AuthV1.UpdateUserRequest(
            email: email.map { AuthV1.StringValue(value: $0) },
            setAttributes: try parseAssignments(set, option: "--set"),
            removeAttributes: unset)
        if let password {
            request.password = AuthV1.StringValue(value: try resolvePassword(password))
        }
        if let roles {
            request.roles = AuthV1.StringList(values: roles.split(separator: ",").map { String($0).trimmingWhitespace }.filter { !$0.isEmpty })
        }
        let user = try await global.withAdmin { admin in
            var change = request
            change.id = try await userID(idOrEmail, admin: admin)
            return try requireUser(try await admin.updateUser(change).user)
        }
        global.emit(json: .object([("user", user.json)]), text: user.text)
    }
}

struct UsersSetRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-roles",
        abstract: "Give a user exactly these roles (none: remove every role)."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    @Argument(help: "The roles.")
    var roles: [String] = []

    func run() async throws {
        let user = try await global.withAdmin { admin in
            let request = AuthV1.UpdateUserRequest(id: try await userID(idOrEmail, admin: admin), roles: AuthV1.StringList(values: roles))
            return try requireUser(try await admin.updateUser(request).user)
        }
        global.emit(json: .object([("user", user.json)]), text: user.text)
    }
}

struct UsersBlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "block",
        abstract: "Block a user (by id or email): sign-in refused, sessions stop working at once."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    func run() async throws {
        let user = try await global.withAdmin { admin in
            try requireUser(try await admin.blockUser(AuthV1.UserIdRequest(id: try await userID(idOrEmail, admin: admin))).user)
        }
        global.emit(json: .object([("user", user.json)]), text: user.text)
    }
}

struct UsersUnblock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unblock", abstract: "Unblock a user (by id or email).")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    func run() async throws {
        let user = try await global.withAdmin { admin in
            try requireUser(try await admin.unblockUser(AuthV1.UserIdRequest(id: try await userID(idOrEmail, admin: admin))).user)
        }
        global.emit(json: .object([("user", user.json)]), text: user.text)
    }
}

struct UsersDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a user (by id or email).")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    func run() async throws {
        let id = try await global.withAdmin { admin in
            let id = try await userID(idOrEmail, admin: admin)
            _ = try await admin.deleteUser(AuthV1.UserIdRequest(id: id))
            return id
        }
        global.emit(
            json: .object([("deleted", .string(id))]),
            text: id == idOrEmail ? "Deleted user \(id)." : "Deleted user \(id) (\(idOrEmail)).")
    }
}

struct UsersResendInvitation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resend-invitation",
        abstract: "Email a user a new invitation; the previous one stops working."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("The user's id, or email (an argument containing \"@\").", valueName: "id-or-email"))
    var idOrEmail: String

    func run() async throws {
        let expires = try await global.withAdmin { admin in
            try await admin.resendInvitation(AuthV1.UserIdRequest(id: try await userID(idOrEmail, admin: admin))).expiresAtMs
        }
        global.emit(
            json: .object([("expires_at_ms", .int(expires))]),
            text: "Invitation sent to user \(idOrEmail); it expires \(formatTime(expires)).")
    }
}
