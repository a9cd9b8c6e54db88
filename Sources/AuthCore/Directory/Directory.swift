import Synchronization

/// Roles' groups, page rules, settings and email templates: read on every GetMe,
/// AuthorizePage and email, changed rarely by an operator.
///
/// The directory owns one snapshot of them. Every reader takes the snapshot and every
/// change goes through `change(_:)`, which writes the store and drops the snapshot before
/// it returns, so that the next call of any caller sees the change. The actor serialises
/// loads and changes; the snapshot it publishes is read without a hop. Another process
/// writing the same database (a second instance) makes its change visible here through
/// `invalidate()`.
public actor Directory {
    /// What the directory holds, consistent as of one load. A class: every GetMe and
    /// AuthorizePage answered from memory takes it, and taking it should cost one
    /// reference, not a copy of every array and dictionary in it.
    public final class Snapshot: Sendable {
        public let groups: [Group]
        public let pageRules: [PageRule]
        /// `pageRules` parsed for matching.
        public let pageRuleSet: PageRuleSet
        public let settings: Settings
        /// The operator's templates; a kind that is absent uses the built-in one.
        public let storedTemplates: [TemplateKind: EmailTemplate]

        /// `groups` by name, for the page gate's membership checks.
        private let groupsByName: [String: Group]

        public init(groups: [Group], pageRules: [PageRule], settings: Settings, storedTemplates: [TemplateKind: EmailTemplate]) {
            self.groups = groups
            self.groupsByName = Dictionary(groups.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            self.pageRules = pageRules
            self.pageRuleSet = PageRuleSet(pageRules)
            self.settings = settings
            self.storedTemplates = storedTemplates
        }

        /// Names of the groups whose every role `user` holds.
        public func groupNames(of user: User) -> [String] {
            guard !groups.isEmpty else { return [] }
            let held = RoleLookup(user.roles)
            return groups.filter { $0.hasMember(holding: held) }.map(\.name)
        }

        /// Whether `user` holds every role of the group called `name` (no such group: no).
        public func isMember(_ user: User, ofGroupNamed name: String) -> Bool {
            guard let group = groupsByName[name] else { return false }
            return group.hasMember(holding: RoleLookup(user.roles))
        }

        public func template(_ kind: TemplateKind) -> EmailTemplate {
            storedTemplates[kind] ?? EmailTemplates.builtIn(kind)
        }
    }

    private let store: any DirectoryStore
    private let defaults: Settings.Defaults
    /// Bumped by every invalidation, so that a load that raced a change is not published.
    private var generation: UInt64 = 0
    private nonisolated let published = Mutex<Snapshot?>(nil)

    public init(store: any DirectoryStore, defaults: Settings.Defaults) {
        self.store = store
        self.defaults = defaults
    }

    /// The snapshot if one is loaded: for the answers given from memory (the event loop's
    /// fast path), which take the slow path when it is nil.
    public nonisolated func loadedSnapshot() -> Snapshot? {
        published.withLock { $0 }
    }

    /// The current snapshot; loads it when a change dropped it.
    public nonisolated func snapshot() async throws(AuthError) -> Snapshot {
        if let current = published.withLock({ $0 }) { return current }
        return try await load()
    }

    /// Runs a change against the store and drops the snapshot, also when the change fails
    /// halfway (a failed transaction changed nothing, but a cheap reload is the safe side).
    public func change<T: Sendable>(_ body: (any DirectoryStore) async throws(AuthError) -> T) async throws(AuthError) -> T {
        defer { invalidate() }
        return try await body(store)
    }

    /// Forgets the snapshot: the next reader loads a new one.
    public func invalidate() {
        generation &+= 1
        published.withLock { $0 = nil }
    }

    private func load() async throws(AuthError) -> Snapshot {
        if let current = published.withLock({ $0 }) { return current }
        let started = generation
        let groups = try await store.groups()
        let pageRules = try await store.pageRules()
        let stored = try await store.settings()
        var templates: [TemplateKind: EmailTemplate] = [:]
        for kind in TemplateKind.allCases {
            if let template = try await store.emailTemplate(kind: kind) {
                templates[kind] = EmailTemplate(kind: kind, subject: template.subject, textBody: template.textBody, htmlBody: template.htmlBody)
            }
        }
        let loaded = Snapshot(
            groups: groups,
            pageRules: pageRules,
            settings: Settings(stored: stored, defaults: defaults),
            storedTemplates: templates
        )
        // Re-checked after the awaits: a change that ran meanwhile may not be in `loaded`.
        if generation == started {
            published.withLock { $0 = loaded }
        }
        return loaded
    }
}
