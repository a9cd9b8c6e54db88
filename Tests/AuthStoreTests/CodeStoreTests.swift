import AuthCore
import AuthdTesting
import Testing

@Suite("CodeStore: reset codes and invitations")
struct CodeStoreTests {
    @Test(arguments: storeKinds)
    func issueCodeVoidsTheOlderAndQueuesOneEmailPerCall(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let older = randomBytes()
            let newer = randomBytes()
            let firstEmail = resetEmail(to: new.email, headers: ["X-Purpose": "reset", "Auto-Submitted": "auto-generated"])
            try await store.issueCode(resetCode(for: new.id, hash: older), email: firstEmail)
            #expect(try await probe.outboxMessages(recipient: nil).count == 1)

            let later = t0 + .seconds(60)
            let secondEmail = resetEmail(to: new.email, at: later)
            try await store.issueCode(resetCode(for: new.id, hash: newer, at: later), email: secondEmail)

            let outbox = try await probe.outboxMessages(recipient: new.email)
            #expect(outbox.map(\.message) == [firstEmail, secondEmail])
            #expect(outbox.allSatisfy { $0.state == .queued && $0.attempts == 0 })
            #expect(try await probe.integer("SELECT count(*) FROM one_time_codes WHERE voided_at IS NULL") == 1)
            #expect(try await probe.integer("SELECT next_attempt_at FROM outbox ORDER BY id LIMIT 1") == t0.milliseconds)

            // The older code no longer works: it is compared with the newer one.
            let withOlder = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: older, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: later)
            #expect(withOlder == .wrong(remainingAttempts: 4))
            let withNewer = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: newer, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: later)
            #expect(withNewer == .accepted(new.id))
        }
    }

    @Test(arguments: storeKinds)
    func codesOfAnotherPurposeAreLeftAlone(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com", passwordHash: nil)
            _ = try await store.insertUser(new, session: nil)
            let invitation = NewOneTimeCode(
                userID: new.id, purpose: .invitation, codeHash: randomBytes(), createdAt: t0, expiresAt: t0 + .seconds(86400))
            var email = resetEmail(to: new.email)
            email.kind = .invitation
            try await store.issueCode(invitation, email: email)
            try await store.issueCode(resetCode(for: new.id, hash: randomBytes()), email: resetEmail(to: new.email))
            #expect(try await probe.integer("SELECT count(*) FROM one_time_codes WHERE voided_at IS NULL") == 2)
            #expect(try await probe.outboxMessages(recipient: new.email).map(\.message.kind) == [.invitation, .verificationCode])
        }
    }

    @Test(arguments: storeKinds)
    func issueCodeForUnknownUserIsNotFoundAndQueuesNothing(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let error = await #expect(throws: AuthError.self) {
                try await store.issueCode(resetCode(for: .generate(), hash: randomBytes()), email: resetEmail(to: "x@example.com"))
            }
            #expect(error?.code == .notFound)
            #expect(try await probe.outboxMessages(recipient: nil).isEmpty)
        }
    }

    @Test(arguments: storeKinds)
    func issueCodeIsAllOrNothing(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let first = randomBytes()
            let email = resetEmail(to: new.email)
            try await store.issueCode(resetCode(for: new.id, hash: first), email: email)
            // A second email with the same Message-ID is refused: the new code must not replace the old.
            let error = await #expect(throws: AuthError.self) {
                try await store.issueCode(resetCode(for: new.id, hash: randomBytes(), at: t0 + .seconds(1)), email: email)
            }
            #expect(error?.code == .internal)
            #expect(try await probe.integer("SELECT count(*) FROM one_time_codes") == 1)
            #expect(try await probe.outboxMessages(recipient: nil).count == 1)
            let check = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: first, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: t0 + .seconds(2))
            #expect(check == .accepted(new.id))
        }
    }

    @Test(arguments: storeKinds)
    func rightCodeIsAcceptedOnceAndEndsEverySession(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            let code = randomBytes()
            try await store.issueCode(resetCode(for: new.id, hash: code), email: resetEmail(to: new.email))

            let now = t0 + .seconds(120)
            let first = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: code, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: now)
            #expect(first == .accepted(new.id))
            let credentials = try #require(try await store.credentials(id: new.id))
            #expect(credentials.passwordHash == "$scrypt$new")
            #expect(credentials.user.updatedAt == now)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: now) == nil)

            let second = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: code, newPasswordHash: "$scrypt$again", maxAttempts: 5, at: now)
            #expect(second == .noLiveCode)
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$new")
        }
    }

    @Test(arguments: storeKinds)
    func wrongCodesCountDownThenVoidTheCode(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            let session = newSession(for: new.id)
            _ = try await store.insertUser(new, session: session)
            let code = randomBytes()
            try await store.issueCode(resetCode(for: new.id, hash: code), email: resetEmail(to: new.email))

            var answers: [CodeCheck] = []
            for _ in 0..<4 {
                answers.append(try await store.redeemPasswordResetCode(
                    userID: new.id, codeHash: randomBytes(), newPasswordHash: "$scrypt$x", maxAttempts: 3, at: t0))
            }
            #expect(answers == [.wrong(remainingAttempts: 2), .wrong(remainingAttempts: 1), .wrong(remainingAttempts: 0), .noLiveCode])
            let right = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: code, newPasswordHash: "$scrypt$x", maxAttempts: 3, at: t0)
            #expect(right == .noLiveCode)
            #expect(try await store.credentials(id: new.id)?.passwordHash == new.passwordHash)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0) != nil)
            #expect(try await probe.integer("SELECT attempts FROM one_time_codes") == 3)
        }
    }

    @Test(arguments: storeKinds)
    func expiredCodeIsNoLiveCode(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let code = randomBytes()
            let issued = resetCode(for: new.id, hash: code)
            try await store.issueCode(issued, email: resetEmail(to: new.email))
            let atExpiry = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: code, newPasswordHash: "$scrypt$x", maxAttempts: 5, at: issued.expiresAt)
            #expect(atExpiry == .noLiveCode)
            #expect(try await store.credentials(id: new.id)?.passwordHash == new.passwordHash)
        }
    }

    @Test(arguments: storeKinds)
    func noCodeIssuedIsNoLiveCode(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            for userID in [new.id, UserID.generate()] {
                let check = try await store.redeemPasswordResetCode(
                    userID: userID, codeHash: randomBytes(), newPasswordHash: "$scrypt$x", maxAttempts: 5, at: t0)
                #expect(check == .noLiveCode)
            }
        }
    }

    @Test(arguments: storeKinds)
    func parallelWrongGuessesCannotExceedMaxAttempts(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            let code = randomBytes()
            try await store.issueCode(resetCode(for: new.id, hash: code), email: resetEmail(to: new.email))

            let answers = try await withThrowingTaskGroup(of: CodeCheck.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await store.redeemPasswordResetCode(
                            userID: new.id, codeHash: randomBytes(), newPasswordHash: "$scrypt$x", maxAttempts: 5, at: t0)
                    }
                }
                var answers: [CodeCheck] = []
                for try await answer in group {
                    answers.append(answer)
                }
                return answers
            }
            let remaining = answers.compactMap { answer -> Int? in
                if case .wrong(let remaining) = answer { return remaining }
                return nil
            }
            #expect(remaining.sorted() == [0, 1, 2, 3, 4])
            #expect(answers.filter { $0 == .noLiveCode }.count == 15)

            let right = try await store.redeemPasswordResetCode(
                userID: new.id, codeHash: code, newPasswordHash: "$scrypt$x", maxAttempts: 5, at: t0)
            #expect(right == .noLiveCode)
            #expect(try await store.credentials(id: new.id)?.passwordHash == new.passwordHash)
        }
    }

    @Test(arguments: storeKinds)
    func deleteCodesTakesOnlyFinishedOnes(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let ada = newUser("ada@example.com")
            let bob = newUser("bob@example.com")
            _ = try await store.insertUser(ada, session: nil)
            _ = try await store.insertUser(bob, session: nil)
            // Ada: a code voided by a newer one (at t0 + 10 s), the newer one used at t0 + 20 s.
            let older = randomBytes()
            let newer = randomBytes()
            try await store.issueCode(resetCode(for: ada.id, hash: older), email: resetEmail(to: ada.email))
            try await store.issueCode(
                resetCode(for: ada.id, hash: newer, at: t0 + .seconds(10)), email: resetEmail(to: ada.email, at: t0 + .seconds(10)))
            let used = try await store.redeemPasswordResetCode(
                userID: ada.id, codeHash: newer, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: t0 + .seconds(20))
            #expect(used == .accepted(ada.id))
            // Bob: a live code that expires at t0 + 15 min.
            let live = randomBytes()
            try await store.issueCode(resetCode(for: bob.id, hash: live), email: resetEmail(to: bob.email))

            #expect(try await store.deleteCodes(finishedBefore: t0 + .seconds(10)) == 0)
            #expect(try await store.deleteCodes(finishedBefore: t0 + .seconds(11)) == 1)
            #expect(try await store.deleteCodes(finishedBefore: t0 + .seconds(21)) == 1)
            #expect(try await probe.integer("SELECT count(*) FROM one_time_codes") == 1)
            // The live code still redeems; once it has expired, it goes too.
            #expect(try await store.deleteCodes(finishedBefore: t0 + .seconds(15 * 60)) == 0)
            #expect(try await store.deleteCodes(finishedBefore: t0 + .seconds(15 * 60 + 1)) == 1)
            let gone = try await store.redeemPasswordResetCode(
                userID: bob.id, codeHash: live, newPasswordHash: "$scrypt$new", maxAttempts: 5, at: t0 + .seconds(60))
            #expect(gone == .noLiveCode)
        }
    }

    @Test(arguments: storeKinds)
    func invitationIsFoundByHashAndRedeemedOnceWithAFirstSession(_ kind: StorageFactory) async throws {
        try await kind.withStorage { store, probe async throws in
            let new = newUser("guest@example.com", passwordHash: nil)
            let code = randomBytes()
            let invitation = NewOneTimeCode(
                userID: new.id, purpose: .invitation, codeHash: code, createdAt: t0, expiresAt: t0 + .seconds(7 * 86400))
            var email = resetEmail(to: new.email)
            email.kind = .invitation
            let user = try await store.insertUser(new, invitation: invitation, email: email)
            #expect(user.hasPassword == false)
            #expect(try await probe.outboxMessages(recipient: new.email).map(\.message) == [email])

            #expect(try await store.invitation(codeHash: code, at: t0 + .seconds(1)) == new.id)
            #expect(try await store.invitation(codeHash: randomBytes(), at: t0 + .seconds(1)) == nil)
            #expect(try await store.invitation(codeHash: code, at: invitation.expiresAt) == nil)
            // A reset code's hash is not an invitation.
            let reset = randomBytes()
            try await store.issueCode(resetCode(for: new.id, hash: reset), email: resetEmail(to: new.email))
            #expect(try await store.invitation(codeHash: reset, at: t0 + .seconds(1)) == nil)

            let session = newSession(for: new.id, at: t0 + .seconds(2))
            let wrong = try await store.redeemInvitation(
                userID: new.id, codeHash: randomBytes(), passwordHash: "$scrypt$first", session: session, at: t0 + .seconds(2))
            #expect(wrong == .noLiveCode)
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(2)) == nil)
            let accepted = try await store.redeemInvitation(
                userID: new.id, codeHash: code, passwordHash: "$scrypt$first", session: session, at: t0 + .seconds(2))
            #expect(accepted == .accepted(new.id))
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$first")
            #expect(try await store.credentials(id: new.id)?.user.updatedAt == t0 + .seconds(2))
            #expect(try await store.authenticate(tokenHash: session.tokenHash, at: t0 + .seconds(3)) != nil)

            let again = try await store.redeemInvitation(
                userID: new.id, codeHash: code, passwordHash: "$scrypt$second", session: newSession(for: new.id), at: t0 + .seconds(4))
            #expect(again == .noLiveCode)
            #expect(try await store.invitation(codeHash: code, at: t0 + .seconds(4)) == nil)
            #expect(try await store.credentials(id: new.id)?.passwordHash == "$scrypt$first")
        }
    }
}
