import AuthAPI
import AuthCore
import AuthRPC
import AuthWire
import Logging

/// CSV import and export of users.
extension AdminHandler {
    func importUsers(_ request: AuthV1.ImportUsersRequest, context: CallContext) async throws -> AuthV1.ImportUsersResponse {
        guard request.firstLine <= UInt64(Int32.max) else {
            throw AuthError.invalidArgument("first_line is too large", field: "first_line")
        }
        let rows = try await administration.importUsers(
            header: request.header,
            rows: request.rows,
            firstLine: request.firstLine == 0 ? 2 : Int(request.firstLine),
            options: try UserImportOptions(request.options ?? AuthV1.ImportOptions()))
        let response = AuthV1.ImportUsersResponse(rows)
        context.logger.info(
            request.options?.dryRun == true ? "users import checked (dry run)" : "users imported",
            metadata: [
                "first-line": "\(request.firstLine)", "created": "\(response.created)", "updated": "\(response.updated)",
                "skipped": "\(response.skipped)", "errors": "\(response.errors)",
            ])
        return response
    }

    func exportUsers(_ request: AuthV1.ExportUsersRequest, context: CallContext) async throws -> AuthV1.ExportUsersResponse {
        let (csv, next) = try await administration.exportUsers(pageSize: Int(request.pageSize), pageToken: request.pageToken)
        return AuthV1.ExportUsersResponse(csv: csv, nextPageToken: next)
    }
}
