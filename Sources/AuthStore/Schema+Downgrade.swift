internal import AuthCore
internal import GRDB

extension Schema {
    /// Brings the schema up to date, but first refuses a database that has migrations this
    /// build does not know: a newer authd upgraded it (a downgrade, or an old binary on a
    /// restored backup). GRDB's migrator would skip them silently and this build would then
    /// read and write tables whose meaning it does not know.
    static func migrate(_ writer: some DatabaseWriter) throws {
        let migrator = self.migrator
        let known = migrator.migrations
        let unknown = try writer.read { db in
            try migrator.appliedIdentifiers(db).subtracting(known).sorted()
        }
        guard unknown.isEmpty else {
            throw AuthError(.failedPrecondition, """
                the database was upgraded by a newer authd: it has schema migrations this build \
                does not know (\(unknown.joined(separator: ", ")); this build knows \
                \(known.joined(separator: ", "))). Start the newer authd again, or restore a \
                backup taken before the upgrade (docs/operations.md, "Upgrade and downgrade")
                """)
        }
        try migrator.migrate(writer)
    }

    /// Refuses a database whose migrations are not exactly this build's, writing nothing.
    static func requireCurrent(_ reader: some DatabaseReader) throws {
        let migrator = self.migrator
        let applied = try reader.read { db in try migrator.appliedIdentifiers(db) }
        guard applied == Set(migrator.migrations) else {
            throw AuthError.schemaNotCurrent(applied: Array(applied), known: migrator.migrations)
        }
    }
}
