public import AuthCore
internal import AuthCrypto
internal import GRDB

extension SQLiteStorage {
    /// "Live" codes are those neither used, voided nor expired at `code.createdAt`. The email
    /// is queued (due at once). An unknown user is `.notFound`.
    public func issueCode(_ code: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) {
        let headers = try StoredHeaders.encode(email.headers)
        try await write("issue code") { db in
            guard try Rows.userExists(db, id: code.userID) else { throw Self.notFound(code.userID) }
            try Rows.voidLiveCodes(db, userID: code.userID, purpose: code.purpose, at: code.createdAt)
            try Rows.insertCode(code, db)
            try Self.enqueue(email, headers: headers, db)
        }
    }

    /// One IMMEDIATE transaction on the single writer connection: parallel guesses are
    /// serialised, so at most `maxAttempts` of them ever count as `.wrong`.
    public func redeemPasswordResetCode(
        userID: UserID,
        codeHash: [UInt8],
        newPasswordHash: String,
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> CodeCheck {
        try await write("redeem code") { db in
            guard let code = try Rows.liveCode(db, userID: userID, purpose: .passwordReset, at: now) else {
                return .noLiveCode
            }
            guard ConstantTime.equals(code.codeHash, codeHash) else {
                let attempts = code.attempts + 1
                let voidedAt: Timestamp? = attempts >= maxAttempts ? now : nil
                try db.cachedStatement(sql: "UPDATE one_time_codes SET attempts = ?, voided_at = ? WHERE id = ?")
                    .execute(arguments: [attempts, voidedAt, code.id])
                return .wrong(remainingAttempts: max(0, maxAttempts - attempts))
            }
            try Rows.markCodeUsed(db, id: code.id, at: now)
            _ = try Rows.setPasswordHash(db, userID: userID, hash: newPasswordHash, at: now)
            _ = try Rows.revokeSessions(db, userID: userID, revoking: .all, at: now)
            return .accepted(userID)
        }
    }

    /// Codes used, voided or expired before `cutoff`: they can never be redeemed again.
    public func deleteCodes(finishedBefore cutoff: Timestamp) async throws(AuthError) -> Int {
        try await write("prune codes") { db in
            try db.cachedStatement(sql: """
                DELETE FROM one_time_codes
                WHERE used_at < :cutoff OR voided_at < :cutoff OR expires_at < :cutoff
                """).execute(arguments: ["cutoff": cutoff])
            let deleted = db.changesCount
            // The decoys of ForgotPassword (`issueDecoyCode`) go with the codes.
            try db.cachedStatement(sql: "DELETE FROM decoy_one_time_codes WHERE created_at < ?").execute(arguments: [cutoff])
            try db.cachedStatement(sql: "DELETE FROM decoy_outbox WHERE created_at < ?").execute(arguments: [cutoff])
            return deleted
        }
    }
}
