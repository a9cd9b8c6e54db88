public import AuthCore
internal import PostgresNIO

extension PostgresStorage {
    // MARK: Page rules

    /// A new rule is created; an existing one keeps its creation time and gets the new
    /// access and groups (duplicates count once; returned sorted). The groups are stored
    /// as given, whatever the access: which combinations make sense is the caller's rule.
    /// A group deleted on another process meanwhile is caught by SERIALIZABLE (and the
    /// foreign key of `page_rule_groups`): the retry says it does not exist.
    public func upsertPageRule(_ rule: PageRule, at now: Timestamp) async throws(AuthError) -> PageRule {
        try await write("save page rule") { connection in
            let groupIDs = try await DirectoryRows.existingGroups(connection, rule.groups, field: "rule.groups")
            try await connection.run("""
                INSERT INTO page_rules (pattern, access, created_at)
                VALUES (\(rule.pattern), \(rule.access.rawValue), \(now.milliseconds))
                ON CONFLICT (pattern) DO UPDATE SET access = excluded.access
                """)
            try await connection.run("DELETE FROM page_rule_groups WHERE pattern = \(rule.pattern)")
            if !groupIDs.isEmpty {
                try await connection.run("""
                    INSERT INTO page_rule_groups (pattern, group_id)
                    SELECT \(rule.pattern), group_id FROM unnest(\(Array(groupIDs.values))::bigint[]) AS t(group_id)
                    """)
            }
            return PageRule(pattern: rule.pattern, access: rule.access, groups: groupIDs.keys.sorted())
        }
    }

    /// Its group list goes by cascade. False when there is no rule for `pattern`.
    public func deletePageRule(pattern: String) async throws(AuthError) -> Bool {
        try await write("delete page rule") { connection in
            try await connection.count("DELETE FROM page_rules WHERE pattern = \(pattern) RETURNING 1") > 0
        }
    }

    /// By pattern, each with its groups sorted as Swift sorts them, as the SQLite store does.
    public func pageRules() async throws(AuthError) -> [PageRule] {
        try await readStatement("read page rules") { connection in
            try await connection.rows("""
                SELECT page_rules.pattern, page_rules.access,
                    ARRAY(SELECT "groups".name FROM page_rule_groups JOIN "groups" ON "groups".id = page_rule_groups.group_id
                          WHERE page_rule_groups.pattern = page_rules.pattern)
                FROM page_rules ORDER BY page_rules.pattern
                """).map { row in
                let (pattern, stored, groups) = try row.decode((String, String, [String]).self)
                // An unknown access (written by a newer build) is an error, not a guess.
                guard let access = PageAccess(rawValue: stored) else {
                    throw AuthError.storage("read page rules: rule \(pattern) has an unknown access \(stored)")
                }
                return PageRule(pattern: pattern, access: access, groups: groups.sorted())
            }
        }
    }

    // MARK: Settings

    public func settings() async throws(AuthError) -> [Settings.Key: String] {
        try await readStatement("read settings") { connection in
            try await Self.settings(connection)
        }
    }

    /// One upsert for every key; two processes setting one key at once are serialised by
    /// its row (SERIALIZABLE retries the later), so the result is one of the two.
    public func updateSettings(_ values: [Settings.Key: String]) async throws(AuthError) -> [Settings.Key: String] {
        try await write("update settings") { connection in
            if !values.isEmpty {
                let keys = Array(values.keys)
                let texts = keys.map { values[$0] ?? "" }
                try await connection.run("""
                    INSERT INTO settings (key, value)
                    SELECT key, value FROM unnest(\(keys.map(\.rawValue))::text[], \(texts)::text[]) AS t(key, value)
                    ON CONFLICT (key) DO UPDATE SET value = excluded.value
                    """)
            }
            return try await Self.settings(connection)
        }
    }

    /// Keys this build does not know (written by a newer one) are left alone.
    private static func settings(_ connection: StoreConnection) async throws -> [Settings.Key: String] {
        var settings: [Settings.Key: String] = [:]
        for row in try await connection.rows("SELECT key, value FROM settings") {
            let (key, value) = try row.decode((String, String).self)
            guard let key = Settings.Key(rawValue: key) else { continue }
            settings[key] = value
        }
        return settings
    }

    // MARK: Remove everything

    /// Page rules, groups, users and roles, each counted by the rows deleted from its own
    /// table; the cascades take group lists, group roles, attributes, user roles, sessions
    /// and codes. API keys, settings, templates, the outbox and throttles stay. A write
    /// on another process at the same time is wholly before or wholly after (SERIALIZABLE).
    public func removeEverything() async throws(AuthError) -> RemovalCounts {
        try await write("remove everything") { connection in
            // One row back whatever the count, not one per row deleted.
            func delete(_ table: String) async throws -> Int {
                let count = try await connection.value(
                    Int64.self, "WITH deleted AS (DELETE FROM \(unescaped: table) RETURNING 1) SELECT count(*) FROM deleted")
                return Int(count ?? 0)
            }
            let pageRules = try await delete("page_rules")
            let groups = try await delete(#""groups""#)
            let users = try await delete("users")
            let roles = try await delete("roles")
            return RemovalCounts(users: users, roles: roles, groups: groups, pageRules: pageRules)
        }
    }
}
