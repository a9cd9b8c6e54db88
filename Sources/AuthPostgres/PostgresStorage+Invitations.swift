public import AuthCore
internal import AuthCrypto
internal import PostgresNIO

extension PostgresStorage {
    public func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User {
        guard invitation.userID == user.id, invitation.purpose == .invitation else {
            throw AuthError(.internal, "the invitation of user \(user.id) names user \(invitation.userID) or another purpose")
        }
        return try await write("insert invited user", email: user.email) { connection in
            let stored = try await Self.insertUser(user, connection)
            try await PostgresRows.insertCode(invitation, connection)
            try await PostgresRows.enqueue(email, connection)
            return stored
        }
    }

    public func invitation(codeHash: [UInt8], at now: Timestamp) async throws(AuthError) -> UserID? {
        try await readStatement("find invitation") { connection in
            try await connection.value(String.self, """
                SELECT user_id FROM one_time_codes
                WHERE code_hash = \(codeHash.bytea) AND purpose = \(CodePurpose.invitation.rawValue)
                  AND used_at IS NULL AND voided_at IS NULL AND expires_at > \(now.milliseconds)
                LIMIT 1
                """).map(UserID.init(rawValue:))
        }
    }

    /// The live code is locked (`FOR UPDATE`): of two redemptions at once, the second waits,
    /// then retries (SERIALIZABLE) and finds the code used.
    public func redeemInvitation(
        userID: UserID,
        codeHash: [UInt8],
        passwordHash: String,
        session: NewSession,
        at now: Timestamp
    ) async throws(AuthError) -> CodeCheck {
        guard session.userID == userID else {
            throw AuthError(.internal, "the session for invitation of \(userID) names user \(session.userID)")
        }
        return try await write("redeem invitation") { connection in
            guard let code = try await PostgresRows.liveCode(connection, userID: userID, purpose: .invitation, at: now),
                ConstantTime.equals(code.codeHash, codeHash)
            else { return .noLiveCode }
            try await PostgresRows.markCodeUsed(connection, id: code.id, at: now)
            _ = try await PostgresRows.setPasswordHash(connection, userID: userID, hash: passwordHash, at: now)
            _ = try await Self.insertSession(session, connection)
            return .accepted(userID)
        }
    }
}
