import ArgumentParser
import AuthClient

// MARK: - Roles

struct Roles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roles",
        abstract: "Create, rename, delete and list roles.",
        subcommands: [RolesAdd.self, RolesRename.self, RolesDelete.self, RolesList.self]
    )
}

struct RolesAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Create a role.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The role's name.")
    var name: String

    func run() async throws {
        let role = try await global.withAdmin { admin in
            try await admin.createRole(AuthV1.RoleRequest(name: name))
        }
        global.emit(json: .object([("role", role.json)]), text: "Created role \(role.name).")
    }
}

struct RolesRename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rename",
        abstract: "Rename a role; users and groups keep it under the new name."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The role's name.")
    var name: String

    @Argument(help: "The new name.")
    var newName: String

    func run() async throws {
        let role = try await global.withAdmin { admin in
            try await admin.renameRole(AuthV1.RenameRequest(name: name, newName: newName))
        }
        global.emit(json: .object([("role", role.json)]), text: "Renamed role \(name) to \(role.name).")
    }
}

struct RolesDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a role.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The role's name.")
    var name: String

    func run() async throws {
        _ = try await global.withAdmin { admin in
            try await admin.deleteRole(AuthV1.RoleRequest(name: name))
        }
        global.emit(json: .object([("deleted", .string(name))]), text: "Deleted role \(name).")
    }
}

struct RolesList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List roles and how many users hold each.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let roles = try await global.withAdmin { admin in
            try await admin.listRoles(AuthV1.Empty()).roles
        }
        global.emit(
            json: .object([("roles", .array(roles.map(\.json)))]),
            text: table(["ROLE", "USERS"], roles.map { [$0.name, String($0.userCount)] }) + (roles.isEmpty ? "\n(none)" : ""))
    }
}

// MARK: - Groups

struct Groups: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "groups",
        abstract: "Groups: named sets of roles. A user is a member when holding every role of the group.",
        subcommands: [
            GroupsAdd.self, GroupsRename.self, GroupsDelete.self, GroupsList.self, GroupsSetRoles.self,
            GroupsMembers.self,
        ]
    )
}

struct GroupsAdd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Create a group.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The group's name.")
    var name: String

    @Option(name: .customLong("role"), help: ArgumentHelp("A role members must hold; repeat for more.", valueName: "role"))
    var roles: [String] = []

    func run() async throws {
        let group = try await global.withAdmin { admin in
            try requireGroup(try await admin.createGroup(AuthV1.CreateGroupRequest(name: name, roles: roles)).group)
        }
        global.emit(json: .object([("group", group.json)]), text: group.text)
    }
}

struct GroupsRename: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rename", abstract: "Rename a group.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The group's name.")
    var name: String

    @Argument(help: "The new name.")
    var newName: String

    func run() async throws {
        let group = try await global.withAdmin { admin in
            try requireGroup(try await admin.renameGroup(AuthV1.RenameRequest(name: name, newName: newName)).group)
        }
        global.emit(json: .object([("group", group.json)]), text: group.text)
    }
}

struct GroupsDelete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a group.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The group's name.")
    var name: String

    func run() async throws {
        _ = try await global.withAdmin { admin in
            try await admin.deleteGroup(AuthV1.GroupRequest(name: name))
        }
        global.emit(json: .object([("deleted", .string(name))]), text: "Deleted group \(name).")
    }
}

struct GroupsList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List groups and their roles.")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let groups = try await global.withAdmin { admin in
            try await admin.listGroups(AuthV1.Empty()).groups
        }
        global.emit(
            json: .object([("groups", .array(groups.map(\.json)))]),
            text: table(["GROUP", "ROLES"], groups.map { [$0.name, list($0.roles)] }) + (groups.isEmpty ? "\n(none)" : ""))
    }
}

struct GroupsSetRoles: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-roles",
        abstract: "Make a group's roles exactly these."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The group's name.")
    var name: String

    @Argument(help: "The roles.")
    var roles: [String] = []

    func run() async throws {
        let group = try await global.withAdmin { admin in
            try requireGroup(try await admin.setGroupRoles(AuthV1.SetGroupRolesRequest(name: name, roles: roles)).group)
        }
        global.emit(json: .object([("group", group.json)]), text: group.text)
    }
}

struct GroupsMembers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "List the users who hold every role of a group."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: "The group's name.")
    var name: String

    @OptionGroup var paging: PageOptions

    func run() async throws {
        let (users, next) = try await global.withAdmin { admin in
            try await paging.collect { size, token in
                let page = try await admin.listGroupMembers(AuthV1.ListGroupMembersRequest(name: name, pageSize: size, pageToken: token))
                return (page.users, page.nextPageToken)
            }
        }
        let (json, text) = usersListing(users, nextPageToken: next)
        global.emit(json: json, text: text)
    }
}
