public import AuthCore
internal import AuthCrypto
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    public func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User {
        guard invitation.userID == user.id, invitation.purpose == .invitation else {
            throw AuthError(.internal, "the invitation of user \(user.id) names user \(invitation.userID) or another purpose")
        }
        let headers = try StoredHeaders.encode(email.headers)
        return try await write("insert invited user", email: user.email) { db in
            let stored = try Self.insert(user, db)
            try Rows.insertCode(invitation, db)
            try Self.enqueue(email, headers: headers, db)
            return stored
        }
    }

    public func invitation(codeHash: [UInt8], at now: Timestamp) async throws(AuthError) -> UserID? {
        try await read("find invitation") { db in
            try UserID.fetchOne(
                db.cachedStatement(sql: """
                    SELECT user_id FROM one_time_codes
                    WHERE code_hash = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                    LIMIT 1
                    """),
                arguments: [Data(codeHash), CodePurpose.invitation, now])
        }
    }

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
        return try await write("redeem invitation") { db in
            guard let code = try Rows.liveCode(db, userID: userID, purpose: .invitation, at: now),
                ConstantTime.equals(code.codeHash, codeHash)
            else { return .noLiveCode }
            try Rows.markCodeUsed(db, id: code.id, at: now)
            _ = try Rows.setPasswordHash(db, userID: userID, hash: passwordHash, at: now)
            _ = try Self.insert(session, db)
            return .accepted(userID)
        }
    }

    public func emailTemplate(kind: TemplateKind) async throws(AuthError) -> StoredEmailTemplate? {
        try await read("read email template") { db in
            try StoredEmailTemplate.fetchOne(
                db.cachedStatement(sql: "SELECT kind, subject, text_body, html_body, updated_at FROM email_templates WHERE kind = ?"),
                arguments: [kind])
        }
    }

    public func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError) {
        try await write("store email template") { db in
            try db.cachedStatement(sql: """
                INSERT INTO email_templates (kind, subject, text_body, html_body, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(kind) DO UPDATE SET subject = excluded.subject, text_body = excluded.text_body,
                    html_body = excluded.html_body, updated_at = excluded.updated_at
                """).execute(arguments: [
                    template.kind, template.subject, template.textBody, template.htmlBody, template.updatedAt,
                ])
        }
    }

    public func deleteEmailTemplate(kind: TemplateKind) async throws(AuthError) -> Bool {
        try await write("reset email template") { db in
            try db.cachedStatement(sql: "DELETE FROM email_templates WHERE kind = ?").execute(arguments: [kind])
            return db.changesCount > 0
        }
    }
}
