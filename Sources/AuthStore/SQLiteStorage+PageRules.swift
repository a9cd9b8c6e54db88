public import AuthCore
internal import GRDB

extension SQLiteStorage {
    // MARK: Page rules

    /// A new rule is created; an existing one keeps its creation time and gets the new
    /// access and groups (duplicates count once; returned sorted). The groups are stored
    /// as given, whatever the access: which combinations make sense is the caller's rule.
    public func upsertPageRule(_ rule: PageRule, at now: Timestamp) async throws(AuthError) -> PageRule {
        try await write("save page rule") { db in
            var groupIDs: [String: Int64] = [:]
            for name in rule.groups where groupIDs[name] == nil {
                guard let id = try Rows.groupID(db, name: name) else {
                    throw AuthError.invalidArgument("group \(name) does not exist", field: "rule.groups")
                }
                groupIDs[name] = id
            }
            try db.cachedStatement(sql: """
                INSERT INTO page_rules (pattern, access, created_at) VALUES (?, ?, ?)
                ON CONFLICT (pattern) DO UPDATE SET access = excluded.access
                """).execute(arguments: [rule.pattern, rule.access, now])
            try db.cachedStatement(sql: "DELETE FROM page_rule_groups WHERE pattern = ?")
                .execute(arguments: [rule.pattern])
            let insert = try db.cachedStatement(sql: "INSERT INTO page_rule_groups (pattern, group_id) VALUES (?, ?)")
            for id in groupIDs.values {
                try insert.execute(arguments: [rule.pattern, id])
            }
            return PageRule(pattern: rule.pattern, access: rule.access, groups: groupIDs.keys.sorted())
        }
    }

    /// Its group list goes by cascade. False when there is no rule for `pattern`.
    public func deletePageRule(pattern: String) async throws(AuthError) -> Bool {
        try await write("delete page rule") { db in
            try db.cachedStatement(sql: "DELETE FROM page_rules WHERE pattern = ?").execute(arguments: [pattern])
            return db.changesCount > 0
        }
    }

    /// By pattern, each with its groups sorted.
    public func pageRules() async throws(AuthError) -> [PageRule] {
        try await read("read page rules") { db in
            let rows = try Row.fetchCursor(db.cachedStatement(sql: """
                SELECT page_rules.pattern, page_rules.access, "groups".name AS group_name FROM page_rules
                LEFT JOIN page_rule_groups ON page_rule_groups.pattern = page_rules.pattern
                LEFT JOIN "groups" ON "groups".id = page_rule_groups.group_id
                ORDER BY page_rules.pattern
                """))
            var rules: [PageRule] = []
            while let row = try rows.next() {
                let pattern: String = try row.decode(forColumn: "pattern")
                if rules.last?.pattern != pattern {
                    // An unknown access (written by a newer build) is a thrown decoding error.
                    rules.append(PageRule(pattern: pattern, access: try row.decode(forColumn: "access")))
                }
                if let group: String = try row.decode(forColumn: "group_name") {
                    rules[rules.count - 1].groups.append(group)
                }
            }
            for index in rules.indices {
                rules[index].groups.sort()
            }
            return rules
        }
    }

    // MARK: Settings

    public func settings() async throws(AuthError) -> [Settings.Key: String] {
        try await read("read settings") { db in
            try Self.settings(db)
        }
    }

    public func updateSettings(_ values: [Settings.Key: String]) async throws(AuthError) -> [Settings.Key: String] {
        try await write("update settings") { db in
            let set = try db.cachedStatement(sql: """
                INSERT INTO settings (key, value) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value
                """)
            for (key, value) in values {
                try set.execute(arguments: [key, value])
            }
            return try Self.settings(db)
        }
    }

    /// Keys this build does not know (written by a newer one) are left alone.
    private static func settings(_ db: Database) throws -> [Settings.Key: String] {
        var settings: [Settings.Key: String] = [:]
        let rows = try Row.fetchCursor(db.cachedStatement(sql: "SELECT key, value FROM settings"))
        while let row = try rows.next() {
            guard let key = Settings.Key(rawValue: try row.decode(forColumn: "key")) else { continue }
            settings[key] = try row.decode(String.self, forColumn: "value")
        }
        return settings
    }

    // MARK: Remove everything

    /// Page rules, groups, users and roles, each counted by the rows deleted from its own
    /// table; the cascades take group lists, group roles, attributes, user roles, sessions
    /// and codes. API keys, settings, templates, the outbox and throttles stay.
    public func removeEverything() async throws(AuthError) -> RemovalCounts {
        try await write("remove everything") { db in
            func delete(_ sql: String) throws -> Int {
                try db.cachedStatement(sql: sql).execute()
                return db.changesCount
            }
            let pageRules = try delete("DELETE FROM page_rules")
            let groups = try delete(#"DELETE FROM "groups""#)
            let users = try delete("DELETE FROM users")
            let roles = try delete("DELETE FROM roles")
            return RemovalCounts(users: users, roles: roles, groups: groups, pageRules: pageRules)
        }
    }
}
