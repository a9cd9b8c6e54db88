public import AuthCore
internal import AuthCrypto
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    /// "Live" codes are those neither used, voided nor expired at `code.createdAt`. The email
    /// is queued (state "queued", due at once). An unknown user is `.notFound`.
    public func issueCode(_ code: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) {
        let headers = try Self.encodeHeaders(email.headers)
        try await write("issue code") { db in
            guard try Rows.userExists(db, id: code.userID) else { throw Self.notFound(code.userID) }
            let now = code.createdAt.milliseconds
            try db.cachedStatement(sql: """
                UPDATE one_time_codes SET voided_at = :now
                WHERE user_id = :user AND purpose = :purpose
                  AND used_at IS NULL AND voided_at IS NULL AND expires_at > :now
                """).execute(arguments: ["now": now, "user": code.userID.rawValue, "purpose": code.purpose.rawValue])
            try Self.insertCode(code, db)
            try Self.enqueue(email, headers: headers, db)
        }
    }

    static func insertCode(_ code: NewOneTimeCode, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO one_time_codes (user_id, purpose, code_hash, created_at, expires_at)
            VALUES (?, ?, ?, ?, ?)
            """).execute(arguments: [
                code.userID.rawValue, code.purpose.rawValue, Data(code.codeHash), code.createdAt.milliseconds,
                code.expiresAt.milliseconds,
            ])
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
            let live = try db.cachedStatement(sql: """
                SELECT id, code_hash, attempts FROM one_time_codes
                WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                ORDER BY created_at DESC, id DESC
                LIMIT 1
                """)
            let arguments: StatementArguments = [userID.rawValue, CodePurpose.passwordReset.rawValue, now.milliseconds]
            guard let row = try Row.fetchOne(live, arguments: arguments) else { return .noLiveCode }
            let codeID: Int64 = row[0]
            let stored: Data = row[1]
            guard ConstantTime.equals([UInt8](stored), codeHash) else {
                let attempts = (row[2] as Int) + 1
                let voidedAt: Int64? = attempts >= maxAttempts ? now.milliseconds : nil
                try db.cachedStatement(sql: "UPDATE one_time_codes SET attempts = ?, voided_at = ? WHERE id = ?")
                    .execute(arguments: [attempts, voidedAt, codeID])
                return .wrong(remainingAttempts: max(0, maxAttempts - attempts))
            }
            try db.cachedStatement(sql: "UPDATE one_time_codes SET used_at = ? WHERE id = ?")
                .execute(arguments: [now.milliseconds, codeID])
            try db.cachedStatement(sql: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [newPasswordHash, now.milliseconds, userID.rawValue])
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
                """).execute(arguments: ["cutoff": cutoff.milliseconds])
            return db.changesCount
        }
    }
}
