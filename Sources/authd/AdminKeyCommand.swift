import ArgumentParser
import AuthServer
import AuthCore

/// `authd admin-key create`: the offline way back in when every admin key is lost.
struct AdminKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin-key",
        abstract: "Manage admin keys straight on the database file (when no admin key is left).",
        subcommands: [AdminKeyCreate.self]
    )
}

struct AdminKeyCreate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create an admin key on the database, the server stopped or running.",
        discussion: """
            The secret is written to a new file (mode 0600), never printed. Use it with \
            authctl --key-file FILE, then revoke keys you no longer trust (authctl keys revoke ID).
            """
    )

    @Option(help: ArgumentHelp("The authd SQLite database file.", valueName: "path"))
    var database: String

    @Option(help: ArgumentHelp("A name for the key, shown by authctl keys list.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("Where to write the secret (default: <database>.admin-key-<name>); must not exist.", valueName: "path"))
    var output: String?

    func validate() throws {
        guard !name.allSatisfy(\.isWhitespace) else { throw ValidationError("--name must not be empty") }
    }

    func run() async throws {
        restrictFileModes()
        let slug = String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
        let file = output ?? "\(database).admin-key-\(slug)"
        do {
            let created = try await AdminKeyRecovery.createAdminKey(databasePath: database, name: name, file: file)
            print("admin key \(created.key.id) (\"\(created.key.name)\") created; its secret is in \(created.file)")
            print("  use it with: \(Authd.authctlCommand) --key-file \(created.file) keys list")
        } catch {
            printError("authd admin-key create: \(error)")
            throw ExitCode(1)
        }
    }
}
