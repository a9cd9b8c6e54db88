public import AuthCore
internal import AuthCrypto
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    public func issueEmailChange(_ code: NewOneTimeCode, emails: [NewOutboxMessage]) async throws(AuthError) {
        var encoded: [(NewOutboxMessage, String)] = []
        for email in emails {
            encoded.append((email, try StoredHeaders.encode(email.headers)))
        }
        let queued = encoded
        try await write("issue email change") { db in
            guard try Rows.userExists(db, id: code.userID) else { throw Self.notFound(code.userID) }
            try Rows.voidLiveCodes(db, userID: code.userID, purpose: code.purpose, at: code.createdAt)
            try db.cachedStatement(sql: """
                INSERT INTO one_time_codes (user_id, purpose, code_hash, created_at, expires_at, new_email)
                VALUES (?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    code.userID.rawValue, code.purpose, Data(code.codeHash), code.createdAt.milliseconds,
                    code.expiresAt.milliseconds, code.newEmail,
                ])
            for (email, headers) in queued {
                try Self.enqueue(email, headers: headers, db)
            }
        }
    }

    /// One IMMEDIATE transaction on the single writer: parallel guesses are serialised, so
    /// at most `maxAttempts` of them ever count as `.wrong`.
    public func redeemEmailChangeCode(
        userID: UserID,
        codeHash: [UInt8],
        maxAttempts: Int,
        at now: Timestamp
    ) async throws(AuthError) -> EmailChangeCheck {
        try await write("redeem email change") { db in
            let live = try db.cachedStatement(sql: """
                SELECT id, code_hash, attempts, new_email FROM one_time_codes
                WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                ORDER BY created_at DESC, id DESC
                LIMIT 1
                """)
            guard let row = try Row.fetchOne(live, arguments: [userID.rawValue, CodePurpose.emailChange, now.milliseconds]),
                let newEmail = row["new_email"] as String?
            else { return .noLiveCode }
            let codeID: Int64 = row["id"]
            let stored: Data = row["code_hash"]
            guard ConstantTime.equals([UInt8](stored), codeHash) else {
                let attempts = (row["attempts"] as Int) + 1
                let voidedAt: Int64? = attempts >= maxAttempts ? now.milliseconds : nil
                try db.cachedStatement(sql: "UPDATE one_time_codes SET attempts = ?, voided_at = ? WHERE id = ?")
                    .execute(arguments: [attempts, voidedAt, codeID])
                return .wrong(remainingAttempts: max(0, maxAttempts - attempts))
            }
            let taken = try Bool.fetchOne(
                db.cachedStatement(sql: "SELECT 1 FROM users WHERE email = ? AND id <> ?"), arguments: [newEmail, userID.rawValue]) ?? false
            if taken { return .emailTaken }
            try db.cachedStatement(sql: "UPDATE one_time_codes SET used_at = ? WHERE id = ?").execute(arguments: [now.milliseconds, codeID])
            try db.cachedStatement(sql: "UPDATE users SET email = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [newEmail, now.milliseconds, userID.rawValue])
            try Rows.voidLiveCodes(db, userID: userID, at: now)
            return .accepted(newEmail: newEmail)
        }
    }
}

extension SQLiteStorage {
    /// Mirrors `issueCode` statement for statement: a user lookup, the voiding update, the
    /// code row and the message row (its headers encoded the same way), in one IMMEDIATE
    /// transaction, into the decoy tables. The user id is fresh, as an account's is, so
    /// the voiding update finds no earlier decoy to void. `deleteCodes` prunes the decoys.
    public func issueDecoyCode(codeHash: [UInt8], email: NewOutboxMessage) async throws(AuthError) {
        let headers = try StoredHeaders.encode(email.headers)
        let code = NewOneTimeCode(
            userID: .generate(), purpose: .passwordReset, codeHash: codeHash,
            createdAt: email.createdAt, expiresAt: email.createdAt)  // nobody redeems it
        try await write("issue decoy code") { db in
            _ = try Rows.userExists(db, id: code.userID)
            try Rows.voidLiveCodes(db, userID: code.userID, purpose: code.purpose, at: code.createdAt, in: .decoy)
            try Rows.insertCode(code, db, into: .decoy)
            try Self.enqueue(email, headers: headers, db, into: .decoy)
        }
    }
}
