import AuthAPI
import AuthCore
import AuthRPC
import AuthWire

/// CSV import and export of users.
extension AdminHandler {
    func importUsers(_ request: AuthV1.ImportUsersRequest, context: CallContext) async throws -> AuthV1.ImportUsersResponse {
        let wire = request.options ?? AuthV1.ImportOptions()
        let policy: AuthCore.ExistingUserPolicy
        switch wire.onExisting {
        case .unspecified, .existingUserSkip: policy = .skip
        case .existingUserUpdate: policy = .update
        case .existingUserFail: policy = .fail
        default:
            throw AuthError.invalidArgument("on_existing \(wire.onExisting.rawValue) is not a known policy", field: "options.on_existing")
        }
        guard request.firstLine <= UInt64(Int32.max) else {
            throw AuthError.invalidArgument("first_line is too large", field: "first_line")
        }
        let rows = try await administration.importUsers(
            header: request.header,
            rows: request.rows,
            firstLine: request.firstLine == 0 ? 2 : Int(request.firstLine),
            options: UserImportOptions(
                sendInvitations: wire.sendInvitations,
                generatePasswords: wire.generatePasswords,
                onExisting: policy,
                dryRun: wire.dryRun,
                rolesSeparator: wire.rolesSeparator))
        var response = AuthV1.ImportUsersResponse()
        response.rows.reserveCapacity(rows.count)
        for row in rows {
            let outcome: AuthV1.ImportRowResult.Outcome
            switch row.outcome {
            case .created: outcome = .created; response.created += 1
            case .updated: outcome = .updated; response.updated += 1
            case .skipped: outcome = .skipped; response.skipped += 1
            case .error: outcome = .error; response.errors += 1
            }
            response.rows.append(AuthV1.ImportRowResult(
                line: UInt64(row.line), email: row.email, outcome: outcome, reason: row.reason,
                generatedPassword: row.generatedPassword ?? ""))
        }
        return response
    }

    func exportUsers(_ request: AuthV1.ExportUsersRequest, context: CallContext) async throws -> AuthV1.ExportUsersResponse {
        let (csv, next) = try await administration.exportUsers(pageSize: Int(request.pageSize), pageToken: request.pageToken)
        return AuthV1.ExportUsersResponse(csv: csv, nextPageToken: next)
    }
}
