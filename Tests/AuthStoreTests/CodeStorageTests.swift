import AuthCore
import AuthdTesting
import Testing
@testable import AuthStore

@Suite("SQLiteStorage: one-time codes")
struct CodeStorageTests {
    @Test func issueCodeVoidsTheOlderAndQueuesOneEmailPerCall() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func codesOfAnotherPurposeAreLeftAlone() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func issueCodeForUnknownUserIsNotFoundAndQueuesNothing() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let error = await #expect(throws: AuthError.self) {
                try await store.issueCode(resetCode(for: .generate(), hash: randomBytes()), email: resetEmail(to: "x@example.com"))
            }
            #expect(error?.code == .notFound)
            #expect(try await probe.outboxMessages(recipient: nil).isEmpty)
        }
    }

    @Test func issueCodeIsAllOrNothing() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func rightCodeIsAcceptedOnceAndEndsEverySession() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func wrongCodesCountDownThenVoidTheCode() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func expiredCodeIsNoLiveCode() async throws {
        try await withSQLiteStorage { store, probe async throws in
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

    @Test func noCodeIssuedIsNoLiveCode() async throws {
        try await withSQLiteStorage { store, probe async throws in
            let new = newUser("ada@example.com")
            _ = try await store.insertUser(new, session: nil)
            for userID in [new.id, UserID.generate()] {
                let check = try await store.redeemPasswordResetCode(
                    userID: userID, codeHash: randomBytes(), newPasswordHash: "$scrypt$x", maxAttempts: 5, at: t0)
                #expect(check == .noLiveCode)
            }
        }
    }

    @Test func parallelWrongGuessesCannotExceedMaxAttempts() async throws {
        try await withSQLiteStorage { store, probe async throws in
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
}
