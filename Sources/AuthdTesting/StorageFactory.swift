public import AuthCore

/// A kind of store the storage role suites run against: it opens a fresh, empty store with
/// a probe of the same database, and tears both down after the test, also when it throws.
/// A second implementation (PostgreSQL) runs every suite by adding one factory to the
/// suites' list.
public struct StorageFactory: Sendable, CustomStringConvertible {
    public typealias Body = (any Storage, any StorageProbe) async throws -> Void

    /// Shown in test names: "SQLite".
    public let description: String
    private let open: @Sendable (Body) async throws -> Void

    /// `open` runs its argument with a fresh store and its probe, then removes both.
    public init(_ name: String, open: @escaping @Sendable (Body) async throws -> Void) {
        self.description = name
        self.open = open
    }

    public func withStorage(_ body: Body) async throws {
        try await open(body)
    }

    /// A `SQLiteStorage` over a fresh file in a temporary directory.
    public static let sqlite = StorageFactory("SQLite") { body in
        try await withSQLiteStorage { store, probe in try await body(store, probe) }
    }
}
