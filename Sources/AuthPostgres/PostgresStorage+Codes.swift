public import AuthCore
internal import AuthCrypto
internal import PostgresNIO

extension PostgresStorage {
    /// "Live" codes are those neither used, voided nor expired at `code.createdAt`. The email
    /// is queued (due at once). An unknown user is `.notFound`.
    ///
    /// Two processes issuing codes to one user at once: both read the user's live codes
    /// (the void's scan) and write there, so SERIALIZABLE aborts one, whose retry voids the
    /// other's code; the user keeps at most one live code per purpose.
    public func issueCode(_ code: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) {
        try await write("issue code") { connection in
            guard try await PostgresRows.userExists(connection, id: code.userID) else { throw Self.notFound(code.userID) }
            try await PostgresRows.voidLiveCodes(connection, userID: code.userID, purpose: code.purpose, at: code.createdAt)
            try await PostgresRows.insertCode(code, connection)
            try await PostgresRows.enqueue(email, connection)
        }
    }

    /// The live code's row is locked (`liveCode` is FOR UPDATE) and every outcome updates
    /// it: a parallel guess, here or in another process, waits for the lock and, once this
    /// transaction commits, is aborted and retried from the start, so it sees the new
    /// count. Each wrong try is counted once, and at most `maxAttempts` ever count.
    public func redeemPasswordResetCode(
        userID: UserID,
        codeHash: [UInt8],
        newPasswordHash: String,
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> CodeCheck {
        try await write("redeem code") { connection in
            guard let code = try await PostgresRows.liveCode(connection, userID: userID, purpose: .passwordReset, at: now) else {
                return .noLiveCode
            }
            guard ConstantTime.equals(code.codeHash, codeHash) else {
                let attempts = code.attempts + 1
                try await Self.countWrongTry(connection, codeID: code.id, attempts: attempts, maxAttempts: maxAttempts, at: now)
                return .wrong(remainingAttempts: max(0, maxAttempts - attempts))
            }
            try await PostgresRows.markCodeUsed(connection, id: code.id, at: now)
            _ = try await PostgresRows.setPasswordHash(connection, userID: userID, hash: newPasswordHash, at: now)
            _ = try await PostgresRows.revokeSessions(connection, userID: userID, revoking: .all, at: now)
            return .accepted(userID)
        }
    }

    /// Stores a wrong try's count on the (locked) code, voiding it at `maxAttempts`.
    static func countWrongTry(
        _ connection: StoreConnection, codeID: Int64, attempts: Int, maxAttempts: Int, at now: Timestamp
    ) async throws {
        let voidedAt: Int64? = attempts >= maxAttempts ? now.milliseconds : nil
        try await connection.run("""
            UPDATE one_time_codes SET attempts = \(Int32(clamping: attempts)), voided_at = \(voidedAt)
            WHERE id = \(codeID)
            """)
    }

    /// Codes used, voided or expired before `cutoff`: they can never be redeemed again. The
    /// decoys of ForgotPassword (`issueDecoyCode`) written before it go with them; only the
    /// codes are counted. Counted in the database: a prune may delete many rows.
    public func deleteCodes(finishedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune codes") { connection in
            let deleted = try await connection.value(Int64.self, """
                WITH deleted AS (
                    DELETE FROM one_time_codes
                    WHERE used_at < \(cutoff.milliseconds) OR voided_at < \(cutoff.milliseconds)
                       OR expires_at < \(cutoff.milliseconds)
                    RETURNING 1
                )
                SELECT count(*) FROM deleted
                """) ?? 0
            try await connection.run("DELETE FROM decoy_one_time_codes WHERE created_at < \(cutoff.milliseconds)")
            try await connection.run("DELETE FROM decoy_outbox WHERE created_at < \(cutoff.milliseconds)")
            return Int(deleted)
        }
    }
}
