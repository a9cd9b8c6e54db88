import AuthCore
import AuthdTesting
import Testing

@Suite("SessionStore")
struct SessionStoreTests {
    @Test(arguments: storeKinds)
    func insertedSessionAuthenticatesWithItsUser(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com", attributes: ["name": "Ada"], roles: ["Premium", "Admin"])
            let user = try await store.insertUser(new, session: nil)
            let session = newSession(for: new.id)
            let record = try await store.insertSession(session)
            #expect(record.userID == new.id)
            #expect(record.tokenHash == session.tokenHash)
            #expect(record.lastSeenAt == t0)
            #expect(record.idleExpiresAt == session.idleExpiresAt)
            #expect(record.absoluteExpiresAt == session.absoluteExpiresAt)

            let found = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(1)))
            #expect(found.session == record)
            #expect(found.user == user)
            #expect(found.user.roles == ["Admin", "Premium"])
            #expect(found.user.attributes == ["name": "Ada"])

            let second = try await store.insertSession(newSession(for: new.id))
            #expect(second.id != record.id)
        }
    }

    @Test(arguments: storeKinds)
    func sessionOfUnknownUserIsNotFound(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.insertSession(newSession(for: .generate()))
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test(arguments: storeKinds)
    func unknownTokenDoesNotAuthenticate(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: newSession(for: new.id))
            #expect(try await store.authenticate(tokenHash: randomBytes(), at: t0) == nil)
        }
    }

    @Test(arguments: storeKinds)
    func revokedSessionDoesNotAuthenticate(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            #expect(try await store.revokeSession(tokenHash: session.tokenHash, at: t0 + .seconds(1)))
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(1)) == nil)
            #expect(try await store.revokeSession(tokenHash: session.tokenHash, at: t0 + .seconds(2)) == false)
            #expect(try await store.revokeSession(tokenHash: randomBytes(), at: t0 + .seconds(2)) == false)
        }
    }

    @Test(arguments: storeKinds)
    func expiredSessionsDoNotAuthenticate(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + idleTimeout - .milliseconds(1)) != nil)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + idleTimeout) == nil)
            #expect(try await store.revokeSession(tokenHash: session.tokenHash, at: t0 + idleTimeout) == false)

            // Touched often enough, it still ends at its absolute expiry.
            let kept = newSession(for: new.id)
            let record = try await store.insertSession(kept)
            let end = t0 + absoluteTimeout
            try await store.touchSessions([SessionTouch(sessionID: record.id, lastSeenAt: end - .seconds(1), idleExpiresAt: end + idleTimeout)])
            #expect(try await store.authenticate(tokenHash: kept.tokenHash, at: end - .milliseconds(1)) != nil)
            #expect(try await store.authenticate(tokenHash: kept.tokenHash, at: end) == nil)
        }
    }

    @Test(arguments: storeKinds)
    func blockedUserDoesNotAuthenticate(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            try await probe.execute("UPDATE users SET blocked = TRUE WHERE id = '\(new.id)'")
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) == nil)
            #expect(try await store.user(id: new.id)?.blocked == true)
            #expect(try await store.credentials(email: new.email)?.user.blocked == true)
            try await probe.execute("UPDATE users SET blocked = FALSE WHERE id = '\(new.id)'")
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) != nil)
        }
    }

    @Test(arguments: storeKinds)
    func deletedUserDoesNotAuthenticate(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            try await probe.execute("DELETE FROM users WHERE id = '\(new.id)'")
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) == nil)
            #expect(try await probe.integer("SELECT count(*) FROM sessions") == 0)
        }
    }

    @Test(arguments: storeKinds)
    func touchSessionExtendsIdleExpiry(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let session = newSession(for: new.id)
            let record = try await store.insertSession(session)
            let touchedAt = t0 + .seconds(20 * 60)
            try await store.touchSessions([SessionTouch(sessionID: record.id, lastSeenAt: touchedAt, idleExpiresAt: touchedAt + idleTimeout)])

            let afterFirstIdle = t0 + idleTimeout + .seconds(1)
            let found = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: afterFirstIdle))
            #expect(found.session.lastSeenAt == touchedAt)
            #expect(found.session.idleExpiresAt == touchedAt + idleTimeout)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: touchedAt + idleTimeout) == nil)

            // A late, older touch does not pull the expiry back.
            try await store.touchSessions([SessionTouch(sessionID: record.id, lastSeenAt: t0 + .seconds(1), idleExpiresAt: t0 + .seconds(2))])
            let again = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: afterFirstIdle))
            #expect(again.session.lastSeenAt == touchedAt)
            #expect(again.session.idleExpiresAt == touchedAt + idleTimeout)

            // Touching an unknown session is harmless.
            try await store.touchSessions([SessionTouch(sessionID: record.id + 1000, lastSeenAt: touchedAt, idleExpiresAt: touchedAt + idleTimeout)])
        }
    }

    @Test(arguments: storeKinds)
    func touchDoesNotReviveARevokedSession(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let session = newSession(for: new.id)
            let record = try await store.insertSession(session)
            #expect(try await store.revokeSession(tokenHash: session.tokenHash, at: t0 + .seconds(1)))
            try await store.touchSessions([SessionTouch(sessionID: record.id, lastSeenAt: t0 + .seconds(2), idleExpiresAt: t0 + idleTimeout * 2)])
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(2)) == nil)
        }
    }

    @Test(arguments: storeKinds)
    func revokeSessionsOfAUser(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let ada = newUser("ada@example.com")
            let bob = newUser("bob@example.com")
            _ = try await store.insertUser(ada, session: nil)
            _ = try await store.insertUser(bob, session: nil)
            let sessions = (0..<4).map { _ in newSession(for: ada.id) }
            var records: [SessionRecord] = []
            for session in sessions {
                records.append(try await store.insertSession(session))
            }
            let bobs = newSession(for: bob.id)
            _ = try await store.insertSession(bobs)
            // One already ended: it is not counted again.
            #expect(try await store.revokeSession(tokenHash: sessions[3].tokenHash, at: t0 + .seconds(1)))

            let now = t0 + .seconds(2)
            #expect(try await store.revokeSessions(userID: ada.id, revoking: .none, at: now) == 0)
            #expect(try await store.authenticate(tokenHash: sessions[0].tokenHash, at: now) != nil)

            #expect(try await store.revokeSessions(userID: ada.id, revoking: .allExcept(sessionID: records[0].id), at: now) == 2)
            #expect(try await store.authenticate(tokenHash: sessions[0].tokenHash, at: now) != nil)
            #expect(try await store.authenticate(tokenHash: sessions[1].tokenHash, at: now) == nil)
            #expect(try await store.authenticate(tokenHash: sessions[2].tokenHash, at: now) == nil)

            #expect(try await store.revokeSessions(userID: ada.id, revoking: .all, at: now) == 1)
            #expect(try await store.authenticate(tokenHash: sessions[0].tokenHash, at: now) == nil)
            #expect(try await store.revokeSessions(userID: ada.id, revoking: .all, at: now) == 0)

            #expect(try await store.authenticate(tokenHash: bobs.tokenHash, at: now) != nil)
            #expect(try await store.revokeSessions(userID: .generate(), revoking: .all, at: now) == 0)
        }
    }

    @Test(arguments: storeKinds)
    func deleteSessionsTakesOnlyThoseThatEndedBeforeTheCutoff(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let live = newSession(for: new.id)
            let revoked = newSession(for: new.id)
            let idle = NewSession(
                userID: new.id, tokenHash: randomBytes(), createdAt: t0,
                idleExpiresAt: t0 + .seconds(60), absoluteExpiresAt: t0 + absoluteTimeout)
            let absolute = NewSession(
                userID: new.id, tokenHash: randomBytes(), createdAt: t0,
                idleExpiresAt: t0 + .seconds(600), absoluteExpiresAt: t0 + .seconds(120))
            for session in [live, revoked, idle, absolute] {
                _ = try await store.insertSession(session)
            }
            #expect(try await store.revokeSession(tokenHash: revoked.tokenHash, at: t0 + .seconds(30)))

            // Nothing ended before t0 + 30 s; the revocation at exactly the cutoff is kept.
            #expect(try await store.deleteSessions(endedBefore: t0 + .seconds(30)) == 0)
            // After the revocation and the idle expiry, before the absolute one.
            #expect(try await store.deleteSessions(endedBefore: t0 + .seconds(61)) == 2)
            #expect(try await probe.integer("SELECT count(*) FROM sessions") == 2)
            #expect(try await store.deleteSessions(endedBefore: t0 + .seconds(121)) == 1)
            #expect(try await store.deleteSessions(endedBefore: t0 + .seconds(121)) == 0)
            // The live session is untouched and still works.
            #expect(try await store.authenticate(tokenHash: live.tokenHash, at: t0 + .seconds(121)) != nil)
            #expect(try await probe.integer("SELECT count(*) FROM sessions") == 1)
        }
    }
}
