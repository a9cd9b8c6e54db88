public import AuthCore
internal import PostgresNIO

// The operator's email templates: one row a kind, so each method is one statement and two
// processes writing one kind at once are serialised by its row.
extension PostgresStorage {
    public func emailTemplate(kind: TemplateKind) async throws(AuthError) -> StoredEmailTemplate? {
        try await readStatement("read email template") { connection in
            guard let row = try await connection.row("""
                SELECT subject, text_body, html_body, updated_at FROM email_templates WHERE kind = \(kind.rawValue)
                """)
            else { return nil }
            let (subject, textBody, htmlBody, updatedAt) = try row.decode((String, String, String, Int64).self)
            return StoredEmailTemplate(
                kind: kind, subject: subject, textBody: textBody, htmlBody: htmlBody,
                updatedAt: Timestamp(milliseconds: updatedAt))
        }
    }

    public func setEmailTemplate(_ template: StoredEmailTemplate) async throws(AuthError) {
        try await write("store email template") { connection in
            try await connection.run("""
                INSERT INTO email_templates (kind, subject, text_body, html_body, updated_at)
                VALUES (\(template.kind.rawValue), \(template.subject), \(template.textBody), \(template.htmlBody),
                        \(template.updatedAt.milliseconds))
                ON CONFLICT (kind) DO UPDATE SET subject = excluded.subject, text_body = excluded.text_body,
                    html_body = excluded.html_body, updated_at = excluded.updated_at
                """)
        }
    }

    public func deleteEmailTemplate(kind: TemplateKind) async throws(AuthError) -> Bool {
        try await write("reset email template") { connection in
            try await connection.count("DELETE FROM email_templates WHERE kind = \(kind.rawValue) RETURNING 1") > 0
        }
    }
}
