import Testing
@testable import AuthCore

@Suite("CSV records: line numbers and quoting errors from the scanner, fields from CSV.swift")
struct CSVTests {
    func read(_ text: String, firstLine: Int = 2) -> [(line: Int, fields: [String]?, problem: String?)] {
        CSVRecords.read(Array(text.utf8), firstLine: firstLine).map { record in
            switch record.fields {
            case .success(let fields): (record.line, fields, nil)
            case .failure(let unreadable): (record.line, nil, unreadable.reason)
            }
        }
    }

    @Test func recordsAreNamedByTheLineTheyStartOn() {
        let records = read("a,b\n\"two\nlines\",c\r\n\r\n\"say \"\"hi\"\"\",\"x,y\"\nlast,")
        #expect(records.map(\.line) == [2, 3, 6, 7])
        #expect(records.map(\.fields) == [["a", "b"], ["two\nlines", "c"], ["say \"hi\"", "x,y"], ["last", ""]])
    }

    @Test func blankLinesAreNoRecords() {
        #expect(read("\n\na\n\r\n\rb\n").map(\.line) == [4, 7])
        #expect(read("").isEmpty)
    }

    @Test func aQuoteInsideAnUnquotedFieldIsACharacter() {
        #expect(read("5\" disk,ok\n").first?.fields == ["5\" disk", "ok"])
    }

    @Test func textAfterAClosingQuoteIsRefusedAndTheRecordsAfterItAreStillRead() {
        let records = read("\"ab\"c,d\ngood,1\n\"x\" ,y\nalso,2\n")
        #expect(records.map(\.line) == [2, 3, 4, 5])
        #expect(records[0].problem == "a quoted field must end at a comma or the end of the record (line 2)")
        #expect(records[1].fields == ["good", "1"])
        #expect(records[2].problem?.contains("line 4") == true)
        #expect(records[3].fields == ["also", "2"])
    }

    @Test func anUnclosedQuoteIsNamedByItsLineAndSwallowsTheRest() {
        let records = read("ok,1\n\"never\nclosed,2\nmore,3\n")
        #expect(records.count == 2)
        #expect(records[0].fields == ["ok", "1"])
        #expect(records[1].line == 3)
        #expect(records[1].problem == "unbalanced quotes: the quoted field opened on line 3 never closes")
    }

    @Test func aRecordThatIsNotUTF8IsRefusedAlone() {
        var bytes = Array("one,1\n".utf8)
        bytes += [0x6E, 0xFF, 0x2C, 0x32, 0x0A]  // "n\u{FF},2"
        bytes += Array("three,3\n".utf8)
        let records = CSVRecords.read(bytes, firstLine: 10)
        #expect(records.map(\.line) == [10, 11, 12])
        #expect((try? records[0].fields.get()) == ["one", "1"])
        #expect((try? records[1].fields.get()) == nil)
        #expect((try? records[2].fields.get()) == ["three", "3"])
    }

    @Test func writtenRecordsReadBackTheSame() throws {
        let rows = [
            ["id", "name", "bio"],
            ["1", "Ada, Countess", "say \"hi\""],
            ["2", " padded ", "two\nlines"],
            ["3", "", "=1+2"],
        ]
        let bytes = try CSVOutput.records(rows)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text == "id,name,bio\n1,\"Ada, Countess\",\"say \"\"hi\"\"\"\n2,\" padded \",\"two\nlines\"\n3,,=1+2\n")
        #expect(CSVRecords.read(bytes, firstLine: 1).map { try? $0.fields.get() } == rows)
        #expect(try CSVOutput.records([]).isEmpty)
    }
}
