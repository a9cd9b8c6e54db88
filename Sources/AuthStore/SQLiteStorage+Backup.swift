public import AuthCore
internal import GRDB

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a backup holds, read back from the finished copy.
public struct SQLiteBackup: Sendable {
    public struct Table: Sendable, Hashable {
        public var name: String
        public var rows: Int
    }

    /// The backup file.
    public var path: String
    public var bytes: Int
    public var pageSize: Int
    public var pageCount: Int
    /// Every table of the copy, schema bookkeeping (`grdb_migrations`) included, by name.
    public var tables: [Table]
    /// The schema migrations the copy has, in the order they ran: a build that does not
    /// know the last one refuses to start on it.
    public var migrations: [String]
}

extension SQLiteStorage {
    /// Copies the database at `database` to a new file `output` (mode 0600), consistently,
    /// while authd serves it: SQLite's online backup (`sqlite3_backup`, through GRDB) copies
    /// every page in one step from one read transaction, so the copy is the database as of
    /// one commit, and writers go on beside it (a WAL reader blocks no writer).
    ///
    /// The source is opened read-only and never migrated, so a backup tool of another build
    /// cannot change the live schema. The copy is made under a temporary name beside
    /// `output`, checked (`PRAGMA integrity_check`), synced, and only then linked to
    /// `output`: `output` never exists half-written, and is never overwritten.
    public static func backup(database: String, to output: String) throws(AuthError) -> SQLiteBackup {
        guard BackupFiles.exists(database) else {
            throw AuthError(.notFound, "no database at \(database)")
        }
        guard !BackupFiles.exists(output) else {
            throw AuthError(.alreadyExists, "\(output) exists: a backup never overwrites a file")
        }
        let partial = "\(output).partial-\(getpid())"
        try BackupFiles.createEmptyPrivateFile(partial)
        defer {
            for suffix in ["", "-journal", "-wal", "-shm"] { unlink(partial + suffix) }
        }
        do {
            var configuration = Configuration()
            configuration.label = "authd-backup-source"
            configuration.readonly = true
            configuration.busyMode = .timeout(Double(busyTimeout.wholeMilliseconds) / 1000)
            let source = try DatabaseQueue(path: database, configuration: configuration)
            let copy = try DatabaseQueue(path: partial)
            try source.backup(to: copy)
            try source.close()

            var report = try copy.read { db in
                let integrity = try String.fetchAll(db, sql: "PRAGMA integrity_check")
                guard integrity == ["ok"] else {
                    throw AuthError.storage("the copy of \(database) fails PRAGMA integrity_check: \(integrity.prefix(5).joined(separator: "; "))")
                }
                let names = try String.fetchAll(db, sql: """
                    SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name
                    """)
                let tables = try names.map { name in
                    SQLiteBackup.Table(name: name, rows: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(name.quotedDatabaseIdentifier)") ?? 0)
                }
                let migrations = names.contains("grdb_migrations")
                    ? try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations ORDER BY rowid")
                    : []
                return SQLiteBackup(
                    path: output,
                    bytes: 0,
                    pageSize: try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 0,
                    pageCount: try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0,
                    tables: tables,
                    migrations: migrations
                )
            }
            try copy.close()
            report.bytes = try BackupFiles.sync(partial)
            guard link(partial, output) == 0 else {
                throw AuthError.storage("cannot create \(output): \(String(cString: strerror(errno)))")
            }
            BackupFiles.syncDirectory(of: output)
            return report
        } catch {
            throw mapped(error, operation: "back up \(database) to \(output)")
        }
    }
}

/// The file system side of a backup.
private enum BackupFiles {
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }

    /// A new, empty file only the owner can read, whatever the umask: SQLite gives the
    /// journal it creates beside a database the database's mode.
    static func createEmptyPrivateFile(_ path: String) throws(AuthError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw AuthError.storage("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            throw AuthError.storage("cannot set the mode of \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Syncs the file to disk and returns its size.
    static func sync(_ path: String) throws(AuthError) -> Int {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw AuthError.storage("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var info = stat()
        guard fsync(descriptor) == 0, fstat(descriptor, &info) == 0 else {
            throw AuthError.storage("cannot sync \(path): \(String(cString: strerror(errno)))")
        }
        return Int(info.st_size)
    }

    /// Makes the new directory entry durable too (best effort: the data is synced already).
    static func syncDirectory(of path: String) {
        let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
