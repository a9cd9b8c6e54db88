/// What this build is, for the `--version` of every executable: the release version
/// (VERSION) and the git commit it was built from, both stamped at build time by
/// Plugins/AuthdVersionPlugin. The commit is "unknown" for a build outside git
/// (a source tarball) and ends in "-dirty" when tracked files had changes.
public enum AuthdVersion {
    public static let version: String = buildVersion
    public static let commit: String = buildCommit

    /// "0.1.0 (commit 4ec6701a2b3c)".
    public static let description = "\(version) (commit \(commit))"
}
