import ArgumentParser
import AuthCore
import AuthServer
import Foundation

/// `authd migrate-store`: from SQLite to PostgreSQL when one machine is not enough, or back.
struct MigrateStoreCommand: AsyncParsableCommand {
    /// The first argument that selects this command: `authd migrate-store …`.
    static let name = "migrate-store"

    static let configuration = CommandConfiguration(
        commandName: "authd \(name)",
        abstract: "Copy everything from one store into a new, empty one (SQLite to PostgreSQL or back).",
        discussion: """
            Users with their password hashes, sessions (tokens stay valid), API keys, roles, groups, \
            page rules, settings, templates, codes, throttles and queued mail are copied as they are, \
            table by table, then counted on both sides. Stop every authd on the source first: a \
            PostgreSQL source with other sessions is refused, and a copy during which the source \
            changed fails. The destination must hold no rows (a PostgreSQL database just created, or a \
            SQLite file that does not exist yet); the source is only read, and must be at this \
            build's schema. A URL with a password can come from the environment: --to env:AUTHD_STORE. \
            Then start authd with store = the destination (docs/operations.md, "PostgreSQL: several \
            instances on one database").
            """
    )

    @Option(help: ArgumentHelp("The store to copy: sqlite:PATH, postgres://user@host:port/db, or env:NAME to read it from that variable.", valueName: "store"))
    var from: String

    @Option(help: ArgumentHelp("The empty store to fill: sqlite:PATH, postgres://user@host:port/db, or env:NAME.", valueName: "store"))
    var to: String

    func run() async throws {
        restrictFileModes()
        do throws(AuthError) {
            let environment = ProcessInfo.processInfo.environment
            let source = try StoreMigration.Location(parsing: from, environment: environment)
            let destination = try StoreMigration.Location(parsing: to, environment: environment)
            let copies = try await StoreMigration.copy(from: source, to: destination) { table, rows in
                // A large table takes a while: say how far it is.
                if rows.isMultiple(of: Self.progressEvery) { printError("authd migrate-store: \(table): \(rows) rows copied") }
            }
            print(Self.report(copies, from: source, to: destination))
        } catch {
            printError("authd migrate-store: \(error.message)")
            throw ExitCode(1)
        }
    }

    /// Rows between two progress lines on stderr.
    static let progressEvery = 100_000

    static func report(_ copies: [StoreMigration.TableCopy], from source: StoreMigration.Location, to destination: StoreMigration.Location) -> String {
        let width = copies.map(\.table.name.count).max() ?? 0
        var lines = ["copied \(source) to \(destination); rows by table, the same on both sides:"]
        for copy in copies {
            lines.append("  \(copy.table.name)\(String(repeating: " ", count: width - copy.table.name.count))  \(copy.rows)")
        }
        return lines.joined(separator: "\n")
    }
}
