import AuthCore
import AuthdTesting
import Testing

@Suite("UserStore")
struct UserStoreTests {
    @Test(arguments: storeKinds)
    func insertedUserReadsBackByIDAndEmail(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser(
                "ada@example.com",
                attributes: ["name": "Ada", "image": "https://example.com/ada.png"],
                roles: ["Premium", "Admin", "Premium"]
            )
            let inserted = try await store.insertUser(new, session: nil)
            #expect(inserted.id == new.id)
            #expect(inserted.roles == ["Admin", "Premium"])
            #expect(inserted.hasPassword)
            #expect(!inserted.blocked)
            #expect(inserted.createdAt == t0 && inserted.updatedAt == t0)

            #expect(try await store.user(id: new.id) == inserted)
            let byEmail = try #require(try await store.credentials(email: "ada@example.com"))
            #expect(byEmail.user == inserted)
            #expect(byEmail.passwordHash == new.passwordHash)
            #expect(try await store.credentials(id: new.id) == byEmail)
        }
    }

    @Test(arguments: storeKinds)
    func unknownUsersAreNil(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.user(id: .generate()) == nil)
            #expect(try await store.credentials(id: .generate()) == nil)
            #expect(try await store.credentials(email: "nobody@example.com") == nil)
        }
    }

    @Test(arguments: storeKinds)
    func userWithoutPasswordHasNone(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("invited@example.com", passwordHash: nil)
            #expect(try await store.insertUser(new, session: nil).hasPassword == false)
            let credentials = try #require(try await store.credentials(id: new.id))
            #expect(credentials.passwordHash == nil)
            #expect(!credentials.user.hasPassword)
        }
    }

    @Test(arguments: storeKinds)
    func rolesAreCreatedOnceAndSortedByName(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let first = newUser("a@example.com", roles: ["Zeta", "Admin"])
            let second = newUser("b@example.com", roles: ["Admin", "Beta"])
            _ = try await store.insertUser(first, session: nil)
            _ = try await store.insertUser(second, session: nil)
            #expect(try await store.user(id: first.id)?.roles == ["Admin", "Zeta"])
            #expect(try await store.user(id: second.id)?.roles == ["Admin", "Beta"])
            #expect(try await probe.texts("SELECT name FROM roles ORDER BY name") == ["Admin", "Beta", "Zeta"])
        }
    }

    @Test(arguments: storeKinds)
    func duplicateEmailIsAlreadyExistsAndLeavesNothingBehind(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.insertUser(newUser("taken@example.com"), session: nil)
            let second = newUser("taken@example.com", attributes: ["name": "Second"], roles: ["NewRole"])
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.insertUser(second, session: newSession(for: second.id))
            }
            #expect(error?.code == .alreadyExists)
            #expect(error?.field == "email")
            #expect(error?.message.contains("taken@example.com") == true)
            #expect(try await store.user(id: second.id) == nil)
            #expect(try await probe.integer("SELECT count(*) FROM users") == 1)
            #expect(try await probe.integer("SELECT count(*) FROM sessions") == 0)
            #expect(try await probe.integer("SELECT count(*) FROM roles") == 0)
        }
    }

    @Test(arguments: storeKinds)
    func insertUserWithFirstSession(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com", roles: ["Admin"])
            let session = newSession(for: new.id, clientAddress: "203.0.113.7")
            let user = try await store.insertUser(new, session: session)
            let found = try #require(try await store.authenticate(tokenHash: session.tokenHash, at: t0))
            #expect(found.user == user)
            #expect(found.session.userID == new.id)
            #expect(found.session.lastSeenAt == t0)
            #expect(try await probe.texts("SELECT client_address FROM sessions") == ["203.0.113.7"])
        }
    }

    @Test(arguments: storeKinds)
    func updateUserChangesEmailAndAttributes(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("old@example.com", attributes: ["name": "Ada", "city": "London", "image": "a.png"])
            _ = try await store.insertUser(new, session: nil)
            let later = t0 + .seconds(60)
            let updated = try await store.updateUser(
                id: new.id,
                changes: UserChanges(
                    email: "new@example.com",
                    setAttributes: ["name": "Ada L.", "lang": "en", "image": "b.png"],
                    removeAttributes: ["city", "image", "absent"]
                ),
                at: later
            )
            #expect(updated.email == "new@example.com")
            #expect(updated.attributes == ["name": "Ada L.", "lang": "en", "image": "b.png"])
            #expect(updated.createdAt == t0)
            #expect(updated.updatedAt == later)
            #expect(try await store.user(id: new.id) == updated)
            #expect(try await store.credentials(email: "old@example.com") == nil)
            #expect(try await store.credentials(email: "new@example.com")?.user == updated)

            let untouched = try await store.updateUser(id: new.id, changes: UserChanges(), at: later + .seconds(1))
            #expect(untouched.email == "new@example.com")
            #expect(untouched.attributes == updated.attributes)
            #expect(untouched.updatedAt == later + .seconds(1))
        }
    }

    @Test(arguments: storeKinds)
    func updateUserEmailConflict(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.insertUser(newUser("first@example.com"), session: nil)
            let second = newUser("second@example.com", attributes: ["name": "B"])
            _ = try await store.insertUser(second, session: nil)
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.updateUser(
                    id: second.id,
                    changes: UserChanges(email: "first@example.com", setAttributes: ["name": "changed"]),
                    at: t0 + .seconds(1)
                )
            }
            #expect(error?.code == .alreadyExists)
            #expect(error?.field == "email")
            let unchanged = try #require(try await store.user(id: second.id))
            #expect(unchanged.email == "second@example.com")
            #expect(unchanged.attributes == ["name": "B"])
            #expect(unchanged.updatedAt == t0)
        }
    }

    @Test(arguments: storeKinds)
    func updateUserKeepingItsOwnEmail(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let updated = try await store.updateUser(
                id: new.id, changes: UserChanges(email: "ada@example.com"), at: t0 + .seconds(1))
            #expect(updated.email == "ada@example.com")
        }
    }

    @Test(arguments: storeKinds)
    func firstSessionOfAnotherUserIsRefused(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.insertUser(new, session: newSession(for: .generate()))
            }
            #expect(error?.code == .internal)
            #expect(try await store.user(id: new.id) == nil)
        }
    }

    @Test(arguments: storeKinds)
    func updateUnknownUserIsNotFound(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.updateUser(id: .generate(), changes: UserChanges(email: "x@example.com"), at: t0)
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test(arguments: storeKinds)
    func setPasswordHashRevokesWhatItIsTold(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let own = newSession(for: new.id)
            _ = try await store.insertUser(new, session: own)
            let other = newSession(for: new.id)
            _ = try await store.insertSession(other)
            let ownRecord = try #require(try await store.authenticate(tokenHash: own.tokenHash, at: t0)).session

            // A rehash is not a password change.
            try await store.setPasswordHash(userID: new.id, hash: "$scrypt$rehash", revoking: .none, at: t0 + .seconds(1))
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$rehash")
            #expect(try await store.credentials(id: new.id)?.user.updatedAt == t0 + .seconds(1))
            #expect(try await store.authenticate(tokenHash: own.tokenHash, at: t0 + .seconds(1)) != nil)
            #expect(try await store.authenticate(tokenHash: other.tokenHash, at: t0 + .seconds(1)) != nil)

            // A change from one session ends the others.
            try await store.setPasswordHash(
                userID: new.id, hash: "$scrypt$second", revoking: .allExcept(sessionID: ownRecord.id), at: t0 + .seconds(2))
            #expect(try await store.authenticate(tokenHash: own.tokenHash, at: t0 + .seconds(2)) != nil)
            #expect(try await store.authenticate(tokenHash: other.tokenHash, at: t0 + .seconds(2)) == nil)

            try await store.setPasswordHash(userID: new.id, hash: "$scrypt$third", revoking: .all, at: t0 + .seconds(3))
            #expect(try await store.authenticate(tokenHash: own.tokenHash, at: t0 + .seconds(3)) == nil)
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$third")
        }
    }

    @Test(arguments: storeKinds)
    func setPasswordHashOfUnknownUserIsNotFound(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let error = await #expect(throws: AuthError.self) {
                try await store.setPasswordHash(userID: .generate(), hash: "$scrypt$x", revoking: .all, at: t0)
            }
            #expect(error?.code == .notFound)
        }
    }

    @Test(arguments: storeKinds)
    func deletingAUserCascades(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("gone@example.com", attributes: ["name": "Gone"], roles: ["Admin"])
            _ = try await store.insertUser(new, session: newSession(for: new.id))
            try await store.issueCode(resetCode(for: new.id, hash: randomBytes()), email: resetEmail(to: new.email))
            try await probe.execute("DELETE FROM users WHERE id = '\(new.id)'")
            for table in ["sessions", "user_attributes", "user_roles", "one_time_codes"] {
                #expect(try await probe.integer("SELECT count(*) FROM \(table)") == 0, "\(table)")
            }
            // The role and the queued email are not the user's to take along.
            #expect(try await probe.integer("SELECT count(*) FROM roles") == 1)
            #expect(try await probe.outboxMessages(recipient: nil).count == 1)
        }
    }

    @Test(arguments: storeKinds)
    func existingEmailsAndAttributeNamesAreReadInOneGo(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            #expect(try await store.existingEmails(["ada@example.com"]).isEmpty)
            #expect(try await store.existingEmails([]).isEmpty)
            #expect(try await store.attributeNames().isEmpty)
            _ = try await store.insertUser(newUser("ada@example.com", attributes: ["name": "Ada", "Zone": "1"]), session: nil)
            _ = try await store.insertUser(newUser("bob@example.com", attributes: ["name": "Bob", "city": "Oslo"]), session: nil)
            let found = try await store.existingEmails(["bob@example.com", "nobody@example.com", "ada@example.com"])
            #expect(found == ["ada@example.com", "bob@example.com"])
            // Each name once, sorted bytewise (upper case before lower case).
            #expect(try await store.attributeNames() == ["Zone", "city", "name"])
        }
    }
}
