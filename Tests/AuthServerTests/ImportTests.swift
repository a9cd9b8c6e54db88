import AuthClient
import AuthdTesting
import Foundation
import Testing
import AuthCore

/// CSV import and export over the wire.
@Suite("CSV import and export")
struct ImportTests {
    typealias Outcome = AuthV1.ImportRowResult.Outcome

    func importCSV(
        _ authd: TestAuthd,
        _ csv: [UInt8],
        options: AuthV1.ImportOptions = AuthV1.ImportOptions()
    ) async throws -> AuthV1.ImportUsersResponse {
        // The header is the first line; records start at line 2.
        let newline = csv.firstIndex(of: 10)!
        let header = String(decoding: csv[..<newline], as: UTF8.self)
        return try await authd.adminClient.admin.importUsers(
            AuthV1.ImportUsersRequest(header: header, rows: Array(csv[(newline + 1)...]), firstLine: 2, options: options))
    }

    func allUsers(_ authd: TestAuthd) async throws -> [AuthV1.User] {
        try await authd.adminClient.admin.listUsers(AuthV1.ListUsersRequest(pageSize: 1000)).users
    }

    @Test("bad rows mixed in are each reported with their line; the good rows are written")
    func badRows() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.adminClient.admin.createRole(AuthV1.RoleRequest(name: "Premium"))
            var csv = Array("""
                email,name,password,roles
                ada@example.com,Ada,secret1,Premium
                ,NoEmail,,
                not-an-email,Bad,,
                ADA@example.com,Again,,
                bob@example.com,Bob,,Ghost
                carl@example.com,Carl,short,
                "dora@example.com","Dora ""D"", two
                lines",,Premium;Premium
                eve@example.com,Eve
                fay@example.com,,,

                """.utf8)
            // line 12: a name that is not UTF-8
            csv.append(contentsOf: Array("bad@example.com,B".utf8) + [0xFF, 0xFE] + Array(",,\n".utf8))
            // line 13: a quote that never closes swallows the rest
            csv.append(contentsOf: Array("gus@example.com,\"Gus,,\nhal@example.com,Hal,,\n".utf8))
            let response = try await importCSV(authd, csv)
            let byLine = Dictionary(uniqueKeysWithValues: response.rows.map { ($0.line, $0) })
            #expect(byLine[2]?.outcome == .created)
            #expect(byLine[3]?.outcome == .error && byLine[3]?.reason == "email is required")
            #expect(byLine[4]?.outcome == .error && byLine[4]?.reason.contains("@") == true)
            #expect(byLine[5]?.outcome == .error && byLine[5]?.reason == "duplicate email: already on line 2 of this chunk")
            #expect(byLine[6]?.outcome == .error && byLine[6]?.reason == "role 'Ghost' does not exist; create it first")
            #expect(byLine[7]?.outcome == .error && byLine[7]?.reason.contains("at least 6 characters") == true)
            #expect(byLine[8]?.outcome == .created && byLine[8]?.email == "dora@example.com")
            #expect(byLine[9] == nil)  // the second line of Dora's record
            #expect(byLine[10]?.outcome == .error && byLine[10]?.reason == "the record has 2 fields, the header 4")
            #expect(byLine[11]?.outcome == .created)
            #expect(byLine[12]?.outcome == .error && byLine[12]?.reason == "the record is not valid UTF-8")
            #expect(byLine[13]?.outcome == .error && byLine[13]?.reason.contains("unbalanced quotes: the quoted field opened on line 13") == true)
            #expect(byLine[14] == nil)
            #expect(response.rows.map(\.line) == [2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13])
            #expect(response.created == 3 && response.errors == 8 && response.skipped == 0 && response.updated == 0)

            let users = try await allUsers(authd)
            #expect(users.map(\.email) == ["ada@example.com", "dora@example.com", "fay@example.com"])
            let dora = users[1]
            #expect(dora.attributes == ["name": "Dora \"D\", two\nlines"])
            #expect(dora.roles == ["Premium"])
            #expect(users[0].hasPassword && !dora.hasPassword)
            #expect(users[2].attributes.isEmpty)  // empty cells are no attributes
        }
    }

    @Test("the header: BOM stripped, names case-insensitive, duplicates and a missing email refused")
    func header() async throws {
        try await withTestAuthd { authd async throws in
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let ok = try await importCSV(authd, bom + Array("EMAIL,Nick-Name\nada@example.com,ada\n".utf8))
            #expect(ok.created == 1)
            #expect(try await allUsers(authd).first?.attributes == ["Nick-Name": "ada"])
            let duplicate = await expectRPCError(.invalidArgument) {
                try await importCSV(authd, Array("email,name,Email\nb@example.com,b,c\n".utf8))
            }
            #expect(duplicate?.message.contains("twice") == true)
            let noEmail = await expectRPCError(.invalidArgument) {
                try await importCSV(authd, Array("name,password\nb,secret1\n".utf8))
            }
            #expect(noEmail?.message.contains("no email column") == true)
            await expectRPCError(.invalidArgument) {
                try await importCSV(authd, Array("email,bad name\nb@example.com,x\n".utf8))
            }
        }
    }

    @Test("a dry run reports what would happen and changes nothing")
    func dryRun() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await importCSV(authd, Array("email,name\nada@example.com,Ada\n".utf8))
            let response = try await importCSV(
                authd, Array("email,name,password\nada@example.com,Ada L.,secret1\nbob@example.com,Bob,\nbad,,\n".utf8),
                options: AuthV1.ImportOptions(generatePasswords: true, onExisting: .existingUserUpdate, dryRun: true))
            #expect(response.rows.map(\.outcome) == [.updated, .created, .error])
            #expect(response.rows.allSatisfy { $0.generatedPassword.isEmpty })
            let users = try await allUsers(authd)
            #expect(users.map(\.email) == ["ada@example.com"])
            #expect(users[0].attributes == ["name": "Ada"] && !users[0].hasPassword)
        }
    }

    @Test("an existing email: skip (default), fail, update")
    func existingPolicies() async throws {
        try await withTestAuthd { authd async throws in
            for role in ["Admin", "Premium"] { _ = try await authd.adminClient.admin.createRole(AuthV1.RoleRequest(name: role)) }
            _ = try await importCSV(authd, Array("email,name,city,roles\nada@example.com,Ada,Paris,Premium\n".utf8))
            let csv = Array("email,name,roles,password\nada@example.com,Ada L.,,secret99\nbob@example.com,Bob,Admin,\n".utf8)

            let skipped = try await importCSV(authd, csv)
            #expect(skipped.rows.map(\.outcome) == [.skipped, .created])
            #expect(skipped.rows[0].reason == "a user with this email already exists")

            let failed = try await importCSV(authd, csv, options: AuthV1.ImportOptions(onExisting: .existingUserFail))
            #expect(failed.rows.map(\.outcome) == [.error, .error])
            #expect(failed.rows.allSatisfy { $0.reason == "a user with this email already exists" })

            let updated = try await importCSV(authd, csv, options: AuthV1.ImportOptions(onExisting: .existingUserUpdate))
            #expect(updated.rows.map(\.outcome) == [.updated, .updated])
            var users = try await allUsers(authd)
            #expect(users[0].attributes == ["name": "Ada L.", "city": "Paris"])  // set, others kept
            #expect(users[0].roles == ["Premium"])  // an empty roles cell keeps the roles
            #expect(users[0].hasPassword)
            let login = try await authd.client.auth.login(AuthV1.LoginRequest(email: "ada@example.com", password: "secret99"))
            #expect(login.session != nil)

            _ = try await importCSV(
                authd, Array("email,roles\nada@example.com,Admin;Premium\n".utf8), options: AuthV1.ImportOptions(onExisting: .existingUserUpdate))
            users = try await allUsers(authd)
            #expect(users[0].roles == ["Admin", "Premium"])
        }
    }

    @Test("generated passwords are returned once per created row and work")
    func generatedPasswords() async throws {
        try await withTestAuthd { authd async throws in
            let response = try await importCSV(
                authd, Array("email,password\nada@example.com,\nbob@example.com,secret1\n".utf8),
                options: AuthV1.ImportOptions(generatePasswords: true))
            #expect(response.rows.map(\.outcome) == [.created, .created])
            let generated = response.rows[0].generatedPassword
            #expect(generated.count == 20 && response.rows[1].generatedPassword.isEmpty)
            _ = try await authd.client.auth.login(AuthV1.LoginRequest(email: "ada@example.com", password: generated))
            _ = try await authd.client.auth.login(AuthV1.LoginRequest(email: "bob@example.com", password: "secret1"))
        }
    }

    @Test("invitations: created rows get an invitation email in the outbox")
    func invitations() async throws {
        try await withTestAuthd { authd async throws in
            _ = try await authd.adminClient.admin.updateSettings(AuthV1.UpdateSettingsRequest(appBaseURL: AuthV1.StringValue(value: "https://cars.example")))
            let response = try await importCSV(
                authd, Array("email,name\nada@example.com,Ada\n".utf8), options: AuthV1.ImportOptions(sendInvitations: true))
            #expect(response.rows.map(\.outcome) == [.created])
            let messages = try await authd.outboxMessages(recipient: "ada@example.com")
            #expect(messages.count == 1)
            #expect(messages.first?.message.kind == .invitation)
        }
    }

    @Test("export, then import into a fresh server: the same users")
    func roundTrip() async throws {
        try await withTestAuthd { source async throws in
            for role in ["Admin", "Premium", "Early Bird"] {
                _ = try await source.adminClient.admin.createRole(AuthV1.RoleRequest(name: role))
            }
            let users: [(String, [String: String], [String])] = [
                ("ada@example.com", ["name": "Ada, Countess", "quote": "say \"hi\""], ["Admin", "Premium"]),
                ("bob@example.com", ["bio": "two\nlines", "email": "other@example.com"], []),
                ("cy@example.com", [:], ["Early Bird"]),
                ("dee@example.com", ["name": " padded ", "city": "Zürich"], ["Premium"]),
                ("eve@example.com", ["name": "Eve"], []),
            ]
            for (email, attributes, roles) in users {
                _ = try await source.adminClient.admin.createUser(AuthV1.CreateUserRequest(email: email, attributes: attributes, roles: roles))
            }
            let bob = try await allUsers(source)[1]
            _ = try await source.adminClient.admin.blockUser(AuthV1.UserIdRequest(id: bob.id))

            var csv: [UInt8] = []
            var token = ""
            var pages = 0
            repeat {
                let page = try await source.adminClient.admin.exportUsers(AuthV1.ExportUsersRequest(pageSize: 2, pageToken: token))
                csv += page.csv
                token = page.nextPageToken
                pages += 1
            } while !token.isEmpty
            #expect(pages == 3)
            let text = String(decoding: csv, as: UTF8.self)
            #expect(text.hasPrefix("id,email,bio,city,attribute:email,name,quote,roles,blocked,created_at,updated_at\n"))
            #expect(!text.contains("scrypt"))
            #expect(text.contains("2027-01-15T08:00:00.000Z"))  // ManualWallClock's start, 1.8e12 ms

            try await withTestAuthd { target async throws in
                for role in ["Admin", "Premium", "Early Bird"] {
                    _ = try await target.adminClient.admin.createRole(AuthV1.RoleRequest(name: role))
                }
                let response = try await importCSV(target, csv)
                #expect(response.created == 5 && response.errors == 0)
                func comparable(_ users: [AuthV1.User]) -> [String] {
                    users.map { "\($0.email) \($0.attributes.sorted { $0.key < $1.key }) \($0.roles) \($0.blocked)" }
                }
                #expect(comparable(try await allUsers(target)) == comparable(try await allUsers(source)))
            }
        }
    }

    @Test("formula cells are exported with an apostrophe and import back as they were")
    func formulaCells() async throws {
        try await withTestAuthd { source async throws in
            _ = try await source.adminClient.admin.createRole(AuthV1.RoleRequest(name: "-ops"))
            let attributes = [
                "a": "=HYPERLINK(\"http://evil.example\",\"x\")", "b": "+cmd|' /C calc'!A0", "c": "-5", "d": "@SUM(A1)",
                "e": "\tx", "f": "\rx", "g": "'=already", "h": "'plain", "i": "a=b", "-dash": "ok",
            ]
            _ = try await source.adminClient.admin.createUser(AuthV1.CreateUserRequest(
                email: "ada@example.com", attributes: attributes, roles: ["-ops"]))
            let csv = try await source.adminClient.admin.exportUsers(AuthV1.ExportUsersRequest()).csv
            let text = String(decoding: csv, as: UTF8.self)
            #expect(text.hasPrefix("id,email,'-dash,a,b,c,d,e,f,g,h,i,roles,"), "\(text)")
            for cell in ["'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")", "'+cmd|' /C calc'!A0", ",'-5,", ",'@SUM(A1),", ",'\tx,",
                         "\"'\rx\"", ",''=already,", ",'plain,", ",a=b,", ",'-ops,"] {
                #expect(text.contains(cell), "\(cell.debugDescription) not in \(text.debugDescription)")
            }
            // No cell of the data row starts like a formula (a spreadsheet would run it).
            let row = text.split(separator: "\n").dropFirst().joined()
            #expect(!row.contains(",="), "\(row)")

            try await withTestAuthd { target async throws in
                _ = try await target.adminClient.admin.createRole(AuthV1.RoleRequest(name: "-ops"))
                let response = try await importCSV(target, csv)
                #expect(response.created == 1 && response.errors == 0, "\(response.rows)")
                let imported = try #require(try await allUsers(target).first)
                #expect(imported.attributes == attributes)
                #expect(imported.roles == ["-ops"])
            }
        }
    }
}
