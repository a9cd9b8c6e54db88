import AuthCore
import AuthPostgres
import AuthStore

/// A store the server opened: every storage role, and what the server itself does with
/// its database — the readiness check and closing it at the end.
protocol ServedStorage: Storage {
    /// A read and a write check, for `/readyz`.
    func probe() async throws(AuthError)

    func closeStorage() throws(AuthError)
}

extension SQLiteStorage: ServedStorage {
    func closeStorage() throws(AuthError) {
        try close()
    }
}

extension PostgresStorage: ServedStorage {
    func closeStorage() {
        close()
    }
}
