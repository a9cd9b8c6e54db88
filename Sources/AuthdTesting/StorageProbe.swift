public import AuthCore

/// What a storage test looks at that no storage role offers: the rows themselves, through
/// SQL that any of our SQL stores understands (the tables and columns are the same), and the
/// outbox as stored. Each store kind the role suites run against brings one.
public protocol StorageProbe: Sendable {
    /// Runs a statement with `?` placeholders bound to `arguments`, in a transaction of its own.
    func execute(_ sql: String, arguments: [String]) async throws

    /// The first column of the first row, as an integer; nil for no row or NULL.
    func integer(_ sql: String) async throws -> Int64?

    /// The first column of every row, as text.
    func texts(_ sql: String) async throws -> [String]

    /// Every outbox row, or those to `recipient`, by id.
    func outboxMessages(recipient: String?) async throws -> [OutboxRecord]
}

extension StorageProbe {
    public func execute(_ sql: String) async throws {
        try await execute(sql, arguments: [])
    }
}
