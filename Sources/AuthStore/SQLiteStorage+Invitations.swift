public import AuthCore
internal import AuthCrypto
internal import Foundation
internal import GRDB

extension SQLiteStorage {
    public func insertUser(_ user: NewUser, invitation: NewOneTimeCode, email: NewOutboxMessage) async throws(AuthError) -> User {
        guard invitation.userID == user.id, invitation.purpose == .invitation else {
            throw AuthError(.internal, "the invitation of user \(user.id) names user \(invitation.userID) or another purpose")
        }
        let headers = try Self.encodeHeaders(email.headers)
        return try await write("insert invited user", email: user.email) { db in
            let stored = try Self.insert(user, db)
            try Self.insertCode(invitation, db)
            try Self.enqueue(email, headers: headers, db)
            return stored
        }
    }

    public func invitation(codeHash: [UInt8], at now: Timestamp) async throws(AuthError) -> UserID? {
        try await read("find invitation") { db in
            try String.fetchOne(
                db.cachedStatement(sql: """
                    SELECT user_id FROM one_time_codes
                    WHERE code_hash = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                    LIMIT 1
                    """),
                arguments: [Data(codeHash), CodePurpose.invitation.rawValue, now.milliseconds]
            ).map(UserID.init(rawValue:))
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
            let live = try db.cachedStatement(sql: """
                SELECT id, code_hash FROM one_time_codes
                WHERE user_id = ? AND purpose = ? AND used_at IS NULL AND voided_at IS NULL AND expires_at > ?
                ORDER BY created_at DESC, id DESC
                LIMIT 1
                """)
            guard let row = try Row.fetchOne(live, arguments: [userID.rawValue, CodePurpose.invitation.rawValue, now.milliseconds]),
                ConstantTime.equals([UInt8](row[1] as Data), codeHash)
            else { return .noLiveCode }
            let codeID: Int64 = row[0]
            try db.cachedStatement(sql: "UPDATE one_time_codes SET used_at = ? WHERE id = ?")
                .execute(arguments: [now.milliseconds, codeID])
            try db.cachedStatement(sql: "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [passwordHash, now.milliseconds, userID.rawValue])
            _ = try Self.insert(session, db)
            return .accepted(userID)
        }
    }

    public func emailTemplate(kind: TemplateKind) async throws(AuthError) -> StoredEmailTemplate? {
        try await read("read email template") { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT kind, subject, text_body, html_body, updated_at FROM email_templates WHERE kind = ?"),
                arguments: [kind]
            ).map { row in
                StoredEmailTemplate(
                    kind: row[0],
                    subject: row[1],
                    textBody: row[2],
                    htmlBody: row[3],
                    updatedAt: Timestamp(milliseconds: row[4])
                )
            }
        }
    }

    public func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError) {
        try await write("store email template") { db in
            try db.cachedStatement(sql: """
                INSERT INTO email_templates (kind, subject, text_body, html_body, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(kind) DO UPDATE SET subject = excluded.subject, text_body = excluded.text_body,
                    html_body = excluded.html_body, updated_at = excluded.updated_at
                """).execute(arguments: [
                    template.kind, template.subject, template.textBody, template.htmlBody, template.updatedAt.milliseconds,
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
