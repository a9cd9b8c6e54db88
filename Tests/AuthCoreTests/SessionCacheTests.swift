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

    @Test("a kept answer: served for its basis only, counted in the bytes, gone with its entry, never over the bounds")
    func keptAnswer() throws {
        let cache = SessionCache(limits: .init(maximumBytes: 64 << 10, maximumEntryBytes: 8 << 10))
        let found = session(user: .generate(), id: 1)
        let hash = found.session.tokenHash
        let (basis, otherBasis) = (Basis(), Basis())
        let key = KeptAnswerKey("GetMe")
        cache.store(found, startedAt: cache.generation())
        guard case .found(let loaded, let entry) = cache.keptAnswer(for: hash, key: key, basis: basis, at: t0) else {
            Issue.record("a stored session is not found"); return
        }
        #expect(loaded == found)
        let before = cache.bytes
        cache.keep([1, 2, 3], key: key, basis: basis, with: entry, tokenHash: hash)
        #expect(cache.bytes == before + 3 + key.cost)
        guard case .kept(let bytes, let times) = cache.keptAnswer(for: hash, key: key, basis: basis, at: t0) else {
            Issue.record("the kept answer is not served"); return
        }
        #expect(bytes == [1, 2, 3] && times.id == 1 && times.idleExpiresAt == found.session.idleExpiresAt)
        // Another basis (a new directory snapshot) derives again; past an expiry nothing is served.
        guard case .found = cache.keptAnswer(for: hash, key: key, basis: otherBasis, at: t0) else {
            Issue.record("a kept answer was served for another basis"); return
        }
        guard case .expired = cache.keptAnswer(for: hash, key: key, basis: basis, at: found.session.idleExpiresAt) else {
            Issue.record("an expired session's kept answer was served"); return
        }
        // Over the entry's bound: not kept, the earlier one stays.
        cache.keep([UInt8](repeating: 7, count: 9 << 10), key: key, basis: basis, with: entry, tokenHash: hash)
        guard case .kept([1, 2, 3], _) = cache.keptAnswer(for: hash, key: key, basis: basis, at: t0) else {
            Issue.record("an answer over the entry bound was kept"); return
        }
        // Answers for other keys sit beside it, at most maximumKeptAnswers of them.
        for rule in 0..<SessionCache.maximumKeptAnswers + 3 {
            cache.keep([UInt8(rule)], key: KeptAnswerKey("AuthorizePage", "/r\(rule)/*"), basis: basis, with: entry, tokenHash: hash)
            guard case .kept([UInt8(rule)], _) = cache.keptAnswer(for: hash, key: KeptAnswerKey("AuthorizePage", "/r\(rule)/*"), basis: basis, at: t0) else {
                Issue.record("the answer for rule \(rule) is not kept"); return
            }
            #expect(cache.bytes <= 64 << 10)
        }
        guard case .found = cache.keptAnswer(for: hash, key: KeptAnswerKey("AuthorizePage", "/r0/*"), basis: basis, at: t0) else {
            Issue.record("more than maximumKeptAnswers answers were kept"); return
        }
        // Dropped with the session; and a replaced entry does not take an answer meant for the old one.
        cache.dropSession(tokenHash: hash)
        guard case .miss = cache.keptAnswer(for: hash, key: key, basis: basis, at: t0) else {
            Issue.record("a kept answer outlived its session"); return
        }
        #expect(cache.bytes == 0)
        cache.store(found, startedAt: cache.generation())
        cache.keep([9], key: key, basis: basis, with: entry, tokenHash: hash)
        guard case .found = cache.keptAnswer(for: hash, key: key, basis: basis, at: t0) else {
            Issue.record("an answer for a dropped entry reached its successor"); return
        }
    }

    private final class Basis {}

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
