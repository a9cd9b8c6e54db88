import AuthdTesting
import Testing
// Internal: an `Invitation` is made by the administration service, not by a test.
@testable import AuthCore

@Suite("ImportStore")
struct ImportStoreTests {
    private func imported(
        _ email: String,
        attributes: [String: String] = [:],
        roles: [String]? = nil,
        passwordHash: String? = nil,
        blocked: Bool? = nil
    ) -> ImportedUser {
        ImportedUser(email: email, attributes: attributes, roles: roles, passwordHash: passwordHash, blocked: blocked)
    }

    @Test(arguments: storeKinds)
    func newEmailsAreCreatedWithTheirAttributesRolesAndFlags(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Premium", at: t0)
            let ada = imported("ada@example.com", attributes: ["name": "Ada"], roles: ["Premium", "Premium"], passwordHash: "$scrypt$a")
            let bob = imported("bob@example.com", blocked: true)
            let outcomes = try await store.importUsers([ada, bob], onExisting: .skip, at: t0 + .seconds(1))
            #expect(outcomes == [.created, .created])
            let stored = try #require(try await store.credentials(email: "ada@example.com"))
            #expect(stored.user.id == ada.id)
            #expect(stored.user.attributes == ["name": "Ada"])
            #expect(stored.user.roles == ["Premium"])
            #expect(stored.user.createdAt == t0 + .seconds(1))
            #expect(stored.passwordHash == "$scrypt$a")
            let blocked = try #require(try await store.user(id: bob.id))
            #expect(blocked.blocked && !blocked.hasPassword && blocked.roles.isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func existingEmailsAreSkippedReportedOrUpdatedAsTheyAreTold(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            _ = try await store.createRole(name: "Premium", at: t0)
            let existing = newUser("ada@example.com", attributes: ["name": "Ada", "city": "Oslo"], roles: ["Admin"])
            let session = newSession(for: existing.id)
            _ = try await store.insertUser(existing, session: session)
            let row = imported("ada@example.com", attributes: ["name": "Countess"], roles: ["Premium"])

            #expect(try await store.importUsers([row], onExisting: .skip, at: t0 + .seconds(1)) == [.skipped])
            #expect(try await store.importUsers([row], onExisting: .fail, at: t0 + .seconds(1)) == [.exists])
            #expect(try await store.user(id: existing.id)?.attributes == ["name": "Ada", "city": "Oslo"])

            // An update without a password or blocked cell keeps the sessions.
            #expect(try await store.importUsers([row], onExisting: .update, at: t0 + .seconds(2)) == [.updated])
            var user = try #require(try await store.user(id: existing.id))
            #expect(user.attributes == ["name": "Countess", "city": "Oslo"])
            #expect(user.roles == ["Premium"])
            #expect(user.updatedAt == t0 + .seconds(2))
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(2)) != nil)
            // No roles cell keeps the roles; a password ends the sessions.
            let password = imported("ada@example.com", passwordHash: "$scrypt$new")
            #expect(try await store.importUsers([password], onExisting: .update, at: t0 + .seconds(3)) == [.updated])
            user = try #require(try await store.user(id: existing.id))
            #expect(user.roles == ["Premium"])
            #expect(try await store.credentials(id: existing.id)?.passwordHash == "$scrypt$new")
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(3)) == nil)
            // The id of an imported row that updates is not the user's: the user keeps its own.
            #expect(try await store.credentials(email: "ada@example.com")?.user.id == existing.id)
        }
    }

    @Test(arguments: storeKinds)
    func blockingByImportEndsSessions(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let existing = newUser("ada@example.com")
            let session = newSession(for: existing.id)
            _ = try await store.insertUser(existing, session: session)
            let outcomes = try await store.importUsers(
                [imported("ada@example.com", blocked: true)], onExisting: .update, at: t0 + .seconds(1))
            #expect(outcomes == [.updated])
            #expect(try await store.user(id: existing.id)?.blocked == true)
            #expect(try await probe.integer("SELECT count(*) FROM sessions WHERE revoked_at IS NULL") == 0)
        }
    }

    @Test(arguments: storeKinds)
    func anUnknownRoleFailsTheWholeBatch(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.createRole(name: "Admin", at: t0)
            let error = await #expect(throws: AuthError.self) {
                _ = try await store.importUsers(
                    [imported("ada@example.com", roles: ["Admin"]), imported("bob@example.com", roles: ["Ghost"])],
                    onExisting: .skip, at: t0)
            }
            #expect(error?.code == .invalidArgument)
            #expect(error?.field == "roles")
            #expect(error?.message.contains("Ghost") == true)
            #expect(try await probe.integer("SELECT count(*) FROM users") == 0)
            #expect(try await store.importUsers([], onExisting: .skip, at: t0).isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func aCreatedUsersInvitationIsStoredInTheSameBatch(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            _ = try await store.insertUser(newUser("old@example.com"), session: nil)
            var fresh = imported("new@example.com")
            var again = imported("old@example.com")
            let freshCode = randomBytes()
            fresh.invitation = invitation(for: fresh, codeHash: freshCode)
            again.invitation = invitation(for: again, codeHash: randomBytes())
            let outcomes = try await store.importUsers([fresh, again], onExisting: .skip, at: t0)
            #expect(outcomes == [.created, .skipped])
            #expect(try await store.invitation(codeHash: freshCode, at: t0 + .seconds(1)) == fresh.id)
            // The skipped row's invitation is not stored, nor its email queued.
            #expect(try await probe.integer("SELECT count(*) FROM one_time_codes") == 1)
            #expect(try await probe.outboxMessages(recipient: nil).map(\.message.recipient) == ["new@example.com"])
        }
    }

    private func invitation(for user: ImportedUser, codeHash: [UInt8]) -> Invitation {
        var email = resetEmail(to: user.email)
        email.kind = .invitation
        return Invitation(
            code: "authd_iv_test",
            record: NewOneTimeCode(
                userID: user.id, purpose: .invitation, codeHash: codeHash, createdAt: t0, expiresAt: t0 + .seconds(86400)),
            email: email)
    }
}
