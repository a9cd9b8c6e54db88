public import AuthCore
import AuthPostgres
import AuthStore

/// `authd migrate-store`: every table of one store copied into another, rows as they
/// are — users with their password hashes, sessions (tokens keep working), API keys,
/// roles, groups, page rules, settings, templates, codes, throttles and queued mail.
/// The destination must be empty; the source is only read. Every authd on the source
/// must be stopped first, or what it writes during the copy may be missed.
public enum StoreMigration {
    /// Where a store is: `sqlite:PATH` or a `postgres://` URL (the `store` key's form).
    public enum Location: Sendable, CustomStringConvertible {
        case sqlite(path: String)
        case postgres(url: String)

        public init(parsing text: String) throws(AuthError) {
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
    /// created. Either store's schema is brought to this build's version first.
    public static func copy(
        from source: Location, to destination: Location,
        progress: @Sendable (StoredTable, Int) -> Void = { _, _ in }
    ) async throws(AuthError) -> [TableCopy] {
        if case .sqlite(let path) = source, !SQLiteStorage.exists(path: path) {
            throw AuthError(.notFound, "no database at \(path)")
        }
        let from = try await open(source)
        defer { from.close() }
        let to = try await open(destination)
        defer { to.close() }
        for table in StoredTable.all {
            let rows = try await to.store.rowCount(of: table)
            guard rows == 0 else {
                throw AuthError(
                    .failedPrecondition,
                    "\(destination) is not empty (\(table) has \(rows) rows): copy into a new database only")
            }
        }
        var copies: [TableCopy] = []
        for table in StoredTable.all {
            let columns = try await from.store.columns(of: table)
            let theirs = try await to.store.columns(of: table)
            guard Set(columns) == Set(theirs) else {
                throw .storage(
                    "\(table) has columns \(columns.joined(separator: ", ")) in \(source) "
                        + "but \(theirs.joined(separator: ", ")) in \(destination)")
            }
            let keyIndexes = table.key.map { columns.firstIndex(of: $0)! }
            // One page stays within PostgreSQL's 65 535 parameters per statement.
            let pageSize = max(1, min(1000, 30_000 / columns.count))
            var after: [StoredValue]? = nil
            var copied = 0
            while true {
                let page = try await from.store.exportRows(of: table, columns: columns, after: after, limit: pageSize)
                guard let last = page.last else { break }
                try await to.store.importRows(into: table, columns: columns, rows: page)
                copied += page.count
                progress(table, copied)
                after = keyIndexes.map { last[$0] }
            }
            copies.append(TableCopy(table: table, rows: copied))
        }
        try await to.store.finishImport()
        for copy in copies {
            let (sourceRows, destinationRows) = (try await from.store.rowCount(of: copy.table), try await to.store.rowCount(of: copy.table))
            guard sourceRows == copy.rows, destinationRows == copy.rows else {
                throw .storage(
                    "\(copy.table): \(copy.rows) rows copied, but \(source) now has \(sourceRows) and \(destination) "
                        + "\(destinationRows): was an authd writing to the source?")
            }
        }
        return copies
    }

    /// An open store and how to close it.
    private struct Opened {
        let store: any StoreTransfer
        let close: @Sendable () -> Void
    }

    private static func open(_ location: Location) async throws(AuthError) -> Opened {
        switch location {
        case .sqlite(let path):
            let storage = try SQLiteStorage(path: path)
            return Opened(store: storage, close: { try? storage.close() })
        case .postgres(let url):
            let storage = try await PostgresStorage(url: url, maximumConnections: 2)
            return Opened(store: storage, close: { storage.close() })
        }
    }
}
