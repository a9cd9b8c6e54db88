public import AuthCore
import AuthPostgres
import AuthStore

/// `authd migrate-store`: every table of one store copied into another, rows as they
/// are — users with their password hashes, sessions (tokens keep working), API keys,
/// roles, groups, page rules, settings, templates, codes, throttles and queued mail.
/// The destination must be empty; the source is only read, and must be at this build's
/// schema. Every authd on the source must be stopped first: a PostgreSQL source with
/// other sessions is refused, and a copy during which another process committed to the
/// source (SQLite's `data_version`) fails.
public enum StoreMigration {
    /// Where a store is: `sqlite:PATH` or a `postgres://` URL (the `store` key's form).
    public enum Location: Sendable, CustomStringConvertible {
        case sqlite(path: String)
        case postgres(url: String)

        /// `env:NAME` reads the store from that environment variable: a URL with a
        /// password then stays off the command line.
        public init(parsing argument: String, environment: [String: String]) throws(AuthError) {
            var text = argument
            if argument.hasPrefix("env:") {
                let name = String(argument.dropFirst("env:".count))
                guard let value = environment[name], !value.isEmpty else {
                    throw AuthError(.invalidArgument, "\(argument): the environment variable \(name) is not set")
                }
                text = value
            }
            if text.hasPrefix("sqlite:") {
                let path = String(text.dropFirst("sqlite:".count))
                guard !path.isEmpty else { throw AuthError(.invalidArgument, "sqlite: needs a path: sqlite:/var/lib/authd/authd.sqlite") }
                self = .sqlite(path: path)
            } else if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
                if let problem = PostgresStorage.problem(withURL: text) { throw AuthError(.invalidArgument, problem) }
                self = .postgres(url: text)
            } else {
                throw AuthError(.invalidArgument, "a store is sqlite:PATH or a postgres:// URL")
            }
        }

        /// Without a password.
        public var description: String {
            switch self {
            case .sqlite(let path): "sqlite:\(path)"
            case .postgres(let url): PostgresStorage.redacted(url)
            }
        }
    }

    public struct TableCopy: Sendable {
        public var table: StoredTable
        public var rows: Int
    }

    /// Copies every table of `source` into `destination`, then counts both sides; the
    /// counts are what it returns. A source SQLite file must exist; a destination one is
    /// created. The destination's schema is brought to this build's first; the source's
    /// must be this build's already, and is only read. `progress` hears a table's rows
    /// copied so far after each page.
    public static func copy(
        from source: Location, to destination: Location,
        progress: @Sendable (StoredTable, Int) -> Void = { _, _ in }
    ) async throws(AuthError) -> [TableCopy] {
        if case .sqlite(let path) = source, !SQLiteStorage.exists(path: path) {
            throw AuthError(.notFound, "no database at \(path)")
        }
        let from = try await open(source, schema: .requireCurrent)
        defer { from.close() }
        let fence = try await from.store.writeFence()
        if let others = fence.otherConnections, others > 0 {
            throw AuthError(
                .failedPrecondition,
                "\(others) other session(s) are connected to \(source): stop every authd on it first, so that nothing changes during the copy")
        }
        let to = try await open(destination, schema: .migrate)
        defer { to.close() }
        for table in StoredTable.all {
            let rows = try await to.store.rowCount(of: table)
            guard rows == 0 else {
                throw AuthError(
                    .failedPrecondition,
                    "\(destination) is not empty (\(table) has \(rows) rows): copy into a new database only")
            }
        }
        do throws(AuthError) {
            let copies = try await copyTables(from: from.store, to: to.store, progress: progress)
            for copy in copies {
                let (sourceRows, destinationRows) = (try await from.store.rowCount(of: copy.table), try await to.store.rowCount(of: copy.table))
                guard sourceRows == copy.rows, destinationRows == copy.rows else {
                    throw AuthError.storage(
                        "\(copy.table): \(copy.rows) rows copied, but the source now has \(sourceRows) and the destination "
                            + "\(destinationRows)")
                }
            }
            guard try await from.store.writeFence() == fence else {
                throw AuthError(.failedPrecondition, "the source changed during the copy: another process wrote to it")
            }
            return copies
        } catch {
            throw AuthError(
                error.code,
                "\(error.message). \(destination) now holds part of the copy: empty it (drop and create the database, "
                    + "or delete the file) and copy again, with every authd on the source stopped")
        }
    }

    /// Every table in key order, one page at a time.
    private static func copyTables(
        from source: any StoreTransfer, to destination: any StoreTransfer,
        progress: @Sendable (StoredTable, Int) -> Void
    ) async throws(AuthError) -> [TableCopy] {
        var copies: [TableCopy] = []
        for table in StoredTable.all {
            let columns = try await source.columns(of: table)
            let theirs = try await destination.columns(of: table)
            let keyIndexes = table.key.compactMap { columns.firstIndex(of: $0) }
            guard Set(columns) == Set(theirs), keyIndexes.count == table.key.count else {
                throw .storage(
                    "\(table) has columns \(columns.joined(separator: ", ")) in the source "
                        + "but \(theirs.joined(separator: ", ")) in the destination")
            }
            var after: [StoredValue]? = nil
            var copied = 0
            while true {
                let page = try await source.exportRows(of: table, columns: columns, after: after, limit: pageSize)
                guard let last = page.last else { break }
                try await destination.importRows(into: table, columns: columns, rows: page)
                copied += page.count
                progress(table, copied)
                after = keyIndexes.map { last[$0] }
            }
            copies.append(TableCopy(table: table, rows: copied))
        }
        try await destination.finishImport()
        return copies
    }

    /// Rows read and written at once.
    static let pageSize = 1000

    /// An open store and how to close it.
    private struct Opened {
        let store: any StoreTransfer
        let close: @Sendable () -> Void
    }

    private static func open(_ location: Location, schema: SchemaUse) async throws(AuthError) -> Opened {
        switch location {
        case .sqlite(let path):
            let storage = try SQLiteStorage(path: path, schema: schema)
            return Opened(store: storage, close: { try? storage.close() })
        case .postgres(let url):
            let storage = try await PostgresStorage(
                url: url, schema: schema, maximumConnections: 2, applicationName: "authd migrate-store")
            return Opened(store: storage, close: { storage.close() })
        }
    }
}
