import AuthCore
import AuthdTesting
import Testing

@Suite("KeyStore: API keys")
struct KeyStoreTests {
    @Test(arguments: storeKinds)
    func apiKeysAreFoundByHashTouchedListedAndRevoked(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.apiKeyCount() == 0)
            #expect(try await store.apiKeys().isEmpty)
            let admin = apiKey("k1", scope: .admin, at: t0)
            let mailer = apiKey("k2", scope: .mailer, at: t0 + .seconds(1))
            let service = apiKey("k0", scope: .service, at: t0 + .seconds(2))
            for key in [admin, mailer, service] {
                try await store.insertAPIKey(key)
            }
            #expect(try await store.apiKeyCount() == 3)

            let found = try #require(try await store.apiKey(secretHash: mailer.secretHash))
            #expect(found == APIKey(id: "k2", name: "key k2", scope: .mailer, createdAt: t0 + .seconds(1)))
            #expect(try await store.apiKey(secretHash: randomBytes()) == nil)

            try await store.touchAPIKey(id: "k2", at: t0 + .seconds(60))
            try await store.touchAPIKey(id: "k2", at: t0 + .seconds(30))  // never backwards
            try await store.touchAPIKey(id: "nope", at: t0 + .seconds(60))
            #expect(try await store.apiKey(secretHash: mailer.secretHash)?.lastUsedAt == t0 + .seconds(60))

            // Oldest first.
            #expect(try await store.apiKeys().map(\.id) == ["k1", "k2", "k0"])
            #expect(try await store.apiKeys().map(\.scope) == [.admin, .mailer, .service])

            // k1 is the only admin key: revoking it would lock every operator out.
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(70)) == .lastAdminKey)
            try await store.insertAPIKey(NewAPIKey(id: "k3", name: "second admin", scope: .admin, secretHash: randomBytes(), createdAt: t0))
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(70)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "k1", at: t0 + .seconds(80)) == .notFound)
            #expect(try await store.revokeAPIKey(id: "nope", at: t0 + .seconds(80)) == .notFound)
            #expect(try await store.revokeAPIKey(id: "k3", at: t0 + .seconds(80)) == .lastAdminKey)
            // A revoked key is still found (the caller refuses it), and still counted.
            let revoked = try #require(try await store.apiKey(secretHash: admin.secretHash))
            #expect(revoked.revokedAt == t0 + .seconds(70))
            try await store.touchAPIKey(id: "k1", at: t0 + .seconds(90))
            #expect(try await store.apiKey(secretHash: admin.secretHash)?.lastUsedAt == nil)
            #expect(try await store.apiKeyCount() == 4)

            let duplicate = await #expect(throws: AuthError.self) { try await store.insertAPIKey(apiKey("k1")) }
            #expect(duplicate?.code == .alreadyExists)
            #expect(duplicate?.field == "id")
        }
    }

    @Test(arguments: storeKinds)
    func revokingTheLastActiveAdminKeyIsRefused(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.revokeAPIKey(id: "none", at: t0) == .notFound)
            try await store.insertAPIKey(apiKey("admin", scope: .admin))
            try await store.insertAPIKey(apiKey("mailer", scope: .mailer))
            try await store.insertAPIKey(apiKey("service", scope: .service))
            // Other scopes do not count as a way in for an operator.
            #expect(try await store.revokeAPIKey(id: "admin", at: t0 + .seconds(1)) == .lastAdminKey)
            #expect(try await store.apiKeys().first { $0.id == "admin" }?.revokedAt == nil)
            // Keys of other scopes can all go.
            #expect(try await store.revokeAPIKey(id: "mailer", at: t0 + .seconds(2)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "service", at: t0 + .seconds(2)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "admin", at: t0 + .seconds(3)) == .lastAdminKey)

            // With a second admin key the first can go; then the second is the last one.
            try await store.insertAPIKey(apiKey("admin2", scope: .admin, at: t0 + .seconds(4)))
            #expect(try await store.revokeAPIKey(id: "admin", at: t0 + .seconds(5)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "admin2", at: t0 + .seconds(6)) == .lastAdminKey)
            // A revoked admin key does not count: a third key lets the second go.
            try await store.insertAPIKey(apiKey("admin3", scope: .admin, at: t0 + .seconds(7)))
            #expect(try await store.revokeAPIKey(id: "admin2", at: t0 + .seconds(8)) == .revoked)
            #expect(try await store.revokeAPIKey(id: "admin3", at: t0 + .seconds(9)) == .lastAdminKey)
            #expect(try await store.apiKeys().filter { $0.revokedAt == nil }.map(\.id) == ["admin3"])
        }
    }

    /// Instances starting together on one database each try to create the first admin key:
    /// one insert wins, the others write nothing (on PostgreSQL the 16 inserts share the
    /// pool's 8 connections, so up to 8 run at once).
    @Test(arguments: storeKinds)
    func theFirstKeyIsInsertedOnceUnderConcurrentStarts(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let inserted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for n in 0..<16 {
                    group.addTask { try await store.insertFirstAPIKey(apiKey("first-\(n)", scope: .admin)) }
                }
                return try await group.reduce(into: 0) { count, won in count += won ? 1 : 0 }
            }
            #expect(inserted == 1)
            #expect(try await store.apiKeyCount() == 1)
            // Once any key exists, revoked or not, there is no first key to create.
            try await store.insertAPIKey(apiKey("second", scope: .admin))
            let first = try #require(try await store.apiKeys().first)
            #expect(try await store.revokeAPIKey(id: first.id, at: t0 + .seconds(1)) == .revoked)
            #expect(try await store.insertFirstAPIKey(apiKey("late", scope: .admin)) == false)
            #expect(try await store.apiKeyCount() == 2)
        }
    }
}
