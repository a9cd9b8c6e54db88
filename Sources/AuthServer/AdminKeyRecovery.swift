public import AuthCore
import AuthStore

/// The way back in for an operator who lost every admin key: a new admin key made
/// straight on the database file, with the server stopped or running (SQLite lets a
/// second process write beside it). The secret goes to a new file, mode 0600, before
/// the key is stored.
public enum AdminKeyRecovery {
    public struct Created: Sendable {
        public var key: APIKey
        public var file: String
    }

    /// Fails when `databasePath` is not an authd database (a typo must not create one) or
    /// `file` exists.
    public static func createAdminKey(databasePath: String, name: String, file: String) async throws -> Created {
        guard SQLiteStorage.exists(path: databasePath) else {
            throw SecretFile.WriteError(description: "no database at \(databasePath)")
        }
        _ = try APIKeys.validatedName(name)  // before a secret is written anywhere
        let storage = try SQLiteStorage(path: databasePath)
        defer { try? storage.close() }
        let keys = APIKeys(storage: storage, clock: SystemWallClock())
        let secret = APIKeys.newSecret()
        try SecretFile.create(secret + "\n", at: file)
        do {
            return Created(key: try await keys.store(name: name, scope: .admin, secret: secret), file: file)
        } catch {
            SecretFile.remove(file)
            throw error
        }
    }
}
