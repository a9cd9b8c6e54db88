import ArgumentParser
import AuthCore
import AuthStore

/// `authd backup`: a consistent copy of the live database, every table, taken while authd
/// serves it. Unlike `authctl users export`, it holds everything a restore needs: password
/// and token hashes, API keys, roles, groups, page rules, settings, templates, the outbox.
struct BackupCommand: ParsableCommand {
    /// The first argument that selects this command: `authd backup …`.
    static let name = "backup"

    static let configuration = CommandConfiguration(
        // As the usage line shows it.
        commandName: "authd \(name)",
        abstract: "Copy the database to a new file, consistently, while authd serves it (or not).",
        discussion: """
            The copy is the database as of one commit; writes go on meanwhile. It is made under \
            a temporary name, checked with PRAGMA integrity_check, synced, then put at --output \
            (mode 0600: it holds password hashes); an existing file is never overwritten. To \
            restore: stop authd, move the database and its -wal and -shm files aside, put the \
            copy in its place, start authd (docs/operations.md, "Backup and restore").
            """
    )

    @Option(help: ArgumentHelp("The authd SQLite database file.", valueName: "path"))
    var database: String

    @Option(help: ArgumentHelp("The backup file to create; must not exist.", valueName: "path"))
    var output: String

    func run() throws {
        restrictFileModes()
        let backup: SQLiteBackup
        do {
            backup = try SQLiteStorage.backup(database: database, to: output)
        } catch {
            printError("authd backup: \(error.message)")
            throw ExitCode(1)
        }
        print(Self.report(backup, of: database))
    }

    /// What was copied: where, how much, and the rows of every table, for the operator
    /// to compare with what they expect.
    static func report(_ backup: SQLiteBackup, of database: String) -> String {
        let width = backup.tables.map(\.name.count).max() ?? 0
        var lines = [
            "backup of \(database) written to \(backup.path)",
            "  \(backup.bytes) bytes (\(backup.pageCount) pages of \(backup.pageSize) bytes), "
                + "integrity_check ok, schema migrations: \(backup.migrations.joined(separator: ", "))",
            "  rows by table:",
        ]
        for table in backup.tables {
            let padding = String(repeating: " ", count: width - table.name.count)
            lines.append("    \(table.name)\(padding)  \(table.rows)")
        }
        return lines.joined(separator: "\n")
    }
}
