public import AuthCore
internal import AuthCrypto
internal import PostgresNIO

extension PostgresStorage {
    /// An unknown user is `.notFound`; as with `issueCode`, two issues at once leave one live code.
    public func issueEmailChange(_ code: NewOneTimeCode, emails: [NewOutboxMessage]) async throws(AuthError) {
        try await write("issue email change") { connection in
            guard try await PostgresRows.userExists(connection, id: code.userID) else { throw Self.notFound(code.userID) }
            try await PostgresRows.voidLiveCodes(connection, userID: code.userID, purpose: code.purpose, at: code.createdAt)
            try await PostgresRows.insertCode(code, connection)
            for email in emails {
                try await PostgresRows.enqueue(email, connection)
            }
        }
    }

    /// The live code's row is locked for the transaction and every outcome but
    /// `.emailTaken` updates it, so parallel guesses in any process are serialised on it
    /// (the later one is retried and sees the new count): at most `maxAttempts` ever count
    /// as `.wrong`. The address check reads the unique email index, so a user who takes the
    /// address meanwhile makes this a serialization failure, whose retry says `.emailTaken`.
    public func redeemEmailChangeCode(
        userID: UserID,
        codeHash: [UInt8],
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> EmailChangeCheck {
        try await write("redeem email change") { connection in
            guard let row = try await connection.row("""
                SELECT id, code_hash, attempts, new_email FROM one_time_codes
                WHERE user_id = \(userID.rawValue) AND purpose = \(CodePurpose.emailChange.rawValue)
                  AND used_at IS NULL AND voided_at IS NULL AND expires_at > \(now.milliseconds)
                ORDER BY created_at DESC, id DESC
                LIMIT 1
                FOR UPDATE
                """)
            else { return .noLiveCode }
            let (codeID, stored, storedAttempts, address) = try row.decode((Int64, ByteBuffer, Int32, String?).self)
            guard let newEmail = address else { return .noLiveCode }
            guard ConstantTime.equals(stored.bytes, codeHash) else {
                let attempts = Int(storedAttempts) + 1
                try await Self.countWrongTry(connection, codeID: codeID, attempts: attempts, maxAttempts: maxAttempts, at: now)
                return .wrong(remainingAttempts: max(0, maxAttempts - attempts))
            }
            let taken = try await connection.row("""
                SELECT 1 FROM users WHERE email = \(newEmail) AND id <> \(userID.rawValue)
                """) != nil
            if taken { return .emailTaken }
            try await PostgresRows.markCodeUsed(connection, id: codeID, at: now)
            try await connection.run("""
                UPDATE users SET email = \(newEmail), updated_at = \(now.milliseconds) WHERE id = \(userID.rawValue)
                """)
            try await PostgresRows.voidLiveCodes(connection, userID: userID, at: now)
            return .accepted(newEmail: newEmail)
        }
    }

    /// Mirrors `issueCode` statement for statement: a user lookup, the voiding update, the
    /// code row and the message row (its headers encoded the same way), in one transaction,
    /// into the decoy tables (the shape and indexes of `one_time_codes` and `outbox`). The
    /// user id is fresh, as an account's is, so the voiding update finds no earlier decoy
    /// to void, and parallel decoys write different rows: no shared row to wait for.
    /// `deleteCodes` prunes the decoys.
    public func issueDecoyCode(codeHash: [UInt8], email: NewOutboxMessage) async throws(AuthError) {
        let code = NewOneTimeCode(
            userID: .generate(), purpose: .passwordReset, codeHash: codeHash,
            createdAt: email.createdAt, expiresAt: email.createdAt)  // nobody redeems it
        try await write("issue decoy code") { connection in
            _ = try await PostgresRows.userExists(connection, id: code.userID)
            try await PostgresRows.voidLiveCodes(connection, userID: code.userID, purpose: code.purpose, at: code.createdAt, in: .decoy)
            try await PostgresRows.insertCode(code, connection, into: .decoy)
            try await PostgresRows.enqueue(email, connection, into: .decoy)
        }
    }
}
