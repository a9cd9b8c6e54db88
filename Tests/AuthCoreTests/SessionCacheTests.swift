@testable import AuthCore
import AuthCrypto
import Testing

/// The cache's own rules: its bound, the drops, and that a load racing a drop is not kept.
/// (That every revoking call drops what it must is shown over the wire in AuthServerTests.)
@Suite("SessionCache")
struct SessionCacheUnitTests {
    private func session(user: UserID, id: Int64) -> AuthenticatedSession {
        let record = SessionRecord(
            id: id, userID: user, tokenHash: SecretToken.hash("authd_st_\(id)"),
            createdAt: t0, lastSeenAt: t0, idleExpiresAt: t0 + .seconds(600), absoluteExpiresAt: t0 + .seconds(3600))
        return AuthenticatedSession(
            session: record, user: User(id: user, email: "u\(id)@example.com", hasPassword: true, createdAt: t0, updatedAt: t0))
    }

    @Test("never holds more than maximumEntries")
    func bound() {
        let cache = SessionCache(limits: .init(maximumEntries: 100))
        let user = UserID.generate()
        for id in 0..<1000 {
            cache.store(session(user: user, id: Int64(id)), startedAt: cache.generation())
            #expect(cache.count <= 100)
        }
        #expect(cache.count == 100)
        // The user's index holds no more than the entries: dropping the user empties it.
        cache.dropSessions(of: user)
        #expect(cache.count == 0 && cache.bytes == 0)
    }

    @Test("never holds more than maximumBytes, and never an entry over maximumEntryBytes")
    func byteBound() {
        let cache = SessionCache(limits: .init(maximumBytes: 64 << 10, maximumEntryBytes: 8 << 10))
        let user = UserID.generate()
        for id in 0..<1000 {
            var found = session(user: user, id: Int64(id))
            found.user.attributes = ["bio": String(repeating: "x", count: id % 4 == 0 ? 4000 : 100)]
            cache.store(found, startedAt: cache.generation())
            #expect(cache.bytes <= 64 << 10)
        }
        #expect(cache.count > 10)
        var huge = session(user: user, id: 5000)
        huge.user.attributes = ["bio": String(repeating: "x", count: 9000)]
        cache.store(huge, startedAt: cache.generation())
        #expect(cache.entry(for: huge.session.tokenHash) == nil)
        cache.dropAll()
        #expect(cache.bytes == 0)
    }

    @Test("a zero bound caches nothing")
    func disabled() {
        let cache = SessionCache(limits: .init(maximumEntries: 0))
        let found = session(user: .generate(), id: 1)
        cache.store(found, startedAt: cache.generation())
        #expect(cache.entry(for: found.session.tokenHash) == nil)
    }

    @Test("a load that started before a drop is not kept")
    func raceWithDrop() {
        let cache = SessionCache()
        let found = session(user: .generate(), id: 1)
        let started = cache.generation()
        cache.dropSession(tokenHash: found.session.tokenHash)  // a revoke lands while the load reads
        cache.store(found, startedAt: started)
        #expect(cache.entry(for: found.session.tokenHash) == nil)
        cache.store(found, startedAt: cache.generation())
        #expect(cache.entry(for: found.session.tokenHash) == found)
    }

    @Test("drops by token, by user and of everything remove only what they name")
    func drops() {
        let cache = SessionCache()
        let ada = UserID.generate(), grace = UserID.generate()
        let a1 = session(user: ada, id: 1), a2 = session(user: ada, id: 2), g1 = session(user: grace, id: 3)
        for found in [a1, a2, g1] { cache.store(found, startedAt: cache.generation()) }
        cache.dropSession(tokenHash: a1.session.tokenHash)
        #expect(cache.entry(for: a1.session.tokenHash) == nil && cache.entry(for: a2.session.tokenHash) != nil)
        cache.dropSessions(of: ada)
        #expect(cache.entry(for: a2.session.tokenHash) == nil && cache.entry(for: g1.session.tokenHash) != nil)
        cache.dropAll()
        #expect(cache.count == 0)
    }

    @Test("an entry older than maximumAge is loaded again")
    func maximumAge() {
        let cache = SessionCache(limits: .init(maximumAge: .zero))
        let found = session(user: .generate(), id: 1)
        cache.store(found, startedAt: cache.generation())
        #expect(cache.entry(for: found.session.tokenHash) == nil)
    }
}
