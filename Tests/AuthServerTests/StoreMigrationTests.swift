import AuthCore
import AuthServer
import AuthStore
import AuthdTesting
import Foundation
import Synchronization
import GRDB
import Testing

/// `StoreMigration.copy` with another process writing to the source meanwhile: the copy
/// must not pass for complete. (The copy's rows themselves are checked end to end by
/// clients/python/tests/test_migrate_store.py.)
@Suite("StoreMigration: a source written during the copy")
struct StoreMigrationTests {
    @Test("a row changed in the source during the copy fails it, and says the destination holds part of it")
    func aWriteDuringTheCopyFailsIt() async throws {
        try await withDatabasePath { source async throws in
            try SQLiteStorage(path: source).close()
            let writer = try DatabaseQueue(path: source)
            // Three pages of settings, so that the copy is still running after its first one.
            try await writer.write { db in
                for n in 0..<2500 {
                    try db.execute(sql: "INSERT INTO settings (key, value) VALUES (?, ?)", arguments: [String(format: "k%05d", n), "v"])
                }
            }
            let destination = source + ".copy"
            let changed = Mutex(false)
            let failed = await #expect(throws: AuthError.self) {
                _ = try await StoreMigration.copy(from: .sqlite(path: source), to: .sqlite(path: destination)) { table, _ in
                    // A row already copied changes: the counts still agree, the fence does not.
                    guard table.name == "settings", !changed.withLock({ $0 }) else { return }
                    try? writer.write { db in try db.execute(sql: "UPDATE settings SET value = 'w' WHERE key = 'k00000'") }
                    changed.withLock { $0 = true }
                }
            }
            #expect(changed.withLock { $0 })
            #expect(failed?.message.contains("the source changed during the copy") == true)
            #expect(failed?.message.contains("now holds part of the copy") == true)
        }
    }

    @Test("the same copy with nobody writing succeeds, every row counted")
    func aQuietCopySucceeds() async throws {
        try await withDatabasePath { source async throws in
            try SQLiteStorage(path: source).close()
            try await DatabaseQueue(path: source).write { db in
                for n in 0..<2500 {
                    try db.execute(sql: "INSERT INTO settings (key, value) VALUES (?, ?)", arguments: [String(format: "k%05d", n), "v"])
                }
            }
            let copies = try await StoreMigration.copy(from: .sqlite(path: source), to: .sqlite(path: source + ".copy"))
            #expect(copies.first { $0.table.name == "settings" }?.rows == 2500)
            #expect(copies.filter { $0.table.name != "settings" }.allSatisfy { $0.rows == 0 })
        }
    }
}
