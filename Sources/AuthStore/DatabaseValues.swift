// Public imports: a conformance of a public type is public, so GRDB is part of this file's interface.
public import AuthCore
public import GRDB

// Domain enums stored by their raw value, so that no SQL literal spells a state or kind.
extension TemplateKind: DatabaseValueConvertible {}
extension OutboxState: DatabaseValueConvertible {}
extension KeyScope: DatabaseValueConvertible {}
extension PageAccess: DatabaseValueConvertible {}
extension CodePurpose: DatabaseValueConvertible {}
extension Settings.Key: DatabaseValueConvertible {}

extension ThrottleKey: DatabaseValueConvertible {
    public var databaseValue: DatabaseValue {
        description.databaseValue
    }

    public static func fromDatabaseValue(_ dbValue: DatabaseValue) -> ThrottleKey? {
        guard let text = String.fromDatabaseValue(dbValue) else { return nil }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard let kind = parts.first.flatMap({ Kind(rawValue: String($0)) }) else { return nil }
        return ThrottleKey(kind, parts.count > 1 ? String(parts[1]) : "")
    }
}
