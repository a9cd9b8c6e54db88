import Testing
@testable import AuthCore

@Suite("Directory: one snapshot, dropped by every change", .timeLimit(.minutes(1)))
struct DirectoryTests {
    let defaults = Settings.Defaults(mailFrom: "authd@example.com", appName: "Cars")

    @Test func aSnapshotIsLoadedOnceAndReusedUntilAChange() async throws {
        let store = InMemoryDirectoryStore()
        let directory = Directory(store: store, defaults: defaults)
        _ = try await directory.snapshot()
        _ = try await directory.snapshot()
        #expect(await store.groupReads == 1)
        #expect(try await directory.snapshot().settings.mailFrom == "authd@example.com")
    }

    @Test func aChangeIsVisibleToTheNextSnapshot() async throws {
        let store = InMemoryDirectoryStore()
        let directory = Directory(store: store, defaults: defaults)
        #expect(try await directory.snapshot().groups.isEmpty)
        let created = try await directory.change { store async throws(AuthError) in
            try await store.createGroup(name: "Staff", roles: ["Admin"], at: t0)
        }
        #expect(created.name == "Staff")
        #expect(try await directory.snapshot().groups.map(\.name) == ["Staff"])
        _ = try await directory.change { store async throws(AuthError) in
            try await store.updateSettings([.mailFrom: "ops@example.com"])
        }
        #expect(try await directory.snapshot().settings.mailFrom == "ops@example.com")
    }

    @Test func aFailedChangeDropsTheSnapshotToo() async throws {
        let store = InMemoryDirectoryStore()
        let directory = Directory(store: store, defaults: defaults)
        _ = try await directory.snapshot()
        await #expect(throws: AuthError.self) {
            try await directory.change { store async throws(AuthError) in try await store.deleteGroup(name: "Nope") }
        }
        _ = try await directory.snapshot()
        #expect(await store.groupReads == 2)
    }

    @Test func aLoadThatRacedAChangeIsReturnedButNotPublished() async throws {
        let store = InMemoryDirectoryStore()
        let directory = Directory(store: store, defaults: defaults)
        let (started, startedContinuation) = AsyncStream<Void>.makeStream()
        let (release, releaseContinuation) = AsyncStream<Void>.makeStream()
        await store.holdNextGroupsRead(started: startedContinuation, release: release)

        // A load reads the groups (none yet) and is held there...
        let racing = Task { try await directory.snapshot() }
        for await _ in started { break }
        // ...while a change runs on the directory (the actor is free while the load awaits).
        _ = try await directory.change { store async throws(AuthError) in
            try await store.createGroup(name: "Staff", roles: ["Admin"], at: t0)
        }
        releaseContinuation.yield()

        // Its caller gets what it read, but it is not kept: the next snapshot loads anew.
        #expect(try await racing.value.groups.isEmpty)
        #expect(try await directory.snapshot().groups.map(\.name) == ["Staff"])
        #expect(await store.groupReads == 2)
    }

    @Test func groupMembershipNeedsEveryRole() async throws {
        let store = InMemoryDirectoryStore()
        let directory = Directory(store: store, defaults: defaults)
        _ = try await directory.change { store async throws(AuthError) in
            _ = try await store.createGroup(name: "Admin Premium", roles: ["Admin", "Premium"], at: t0)
            return try await store.createGroup(name: "Nobody", roles: [], at: t0)
        }
        let snapshot = try await directory.snapshot()
        func user(_ roles: [String]) -> User {
            User(id: .generate(), email: "a@example.com", attributes: [:], roles: roles, blocked: false,
                 hasPassword: true, createdAt: t0, updatedAt: t0)
        }
        #expect(snapshot.groupNames(of: user(["Admin", "Premium", "Staff"])) == ["Admin Premium"])
        #expect(snapshot.groupNames(of: user(["Admin"])).isEmpty)
        #expect(snapshot.groupNames(of: user([])).isEmpty)
        #expect(snapshot.template(.invitation) == EmailTemplates.builtIn(.invitation))
        // The page gate's check by group name, and both ways of looking roles up: a scan of a
        // few roles, a set of many (past RoleLookup.scanLimit).
        let many = (0..<40).map { "R\($0)" }
        for extra in [["Staff"], many] {
            #expect(snapshot.isMember(user(["Admin", "Premium"] + extra), ofGroupNamed: "Admin Premium"))
            #expect(!snapshot.isMember(user(["Admin"] + extra), ofGroupNamed: "Admin Premium"))
            #expect(!snapshot.isMember(user(["Admin", "Premium"] + extra), ofGroupNamed: "Nobody"))
            #expect(!snapshot.isMember(user(["Admin", "Premium"] + extra), ofGroupNamed: "No such group"))
            #expect(snapshot.groupNames(of: user(extra + ["Premium", "Admin"])) == ["Admin Premium"])
        }
    }
}
