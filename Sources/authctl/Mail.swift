import ArgumentParser
import AuthClient

// MARK: - The outbox

struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "The outbox: messages the mailer gave up on (dead), and queueing them again.",
        subcommands: [MailDead.self, MailRequeue.self]
    )
}

struct MailDead: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead",
        abstract: "List dead messages: a permanent failure (an SMTP 5xx) or too many attempts.",
        discussion: "A dead message is not sent again until `authctl mail requeue` queues it."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @OptionGroup var paging: PageOptions

    func run() async throws {
        let (messages, next) = try await global.withAdmin { admin in
            try await paging.collect { size, token in
                let page = try await admin.listDeadMessages(AuthV1.ListDeadMessagesRequest(pageSize: size, pageToken: token))
                return (page.messages, page.nextPageToken)
            }
        }
        var text = table(
            ["ID", "RECIPIENT", "ATTEMPTS", "CREATED", "SUBJECT", "LAST ERROR"],
            messages.map { [String($0.id), $0.recipient, String($0.attempts), formatTime($0.createdAtMs), $0.subject, $0.lastError] })
        if messages.isEmpty { text += "\n(none)" }
        text += moreHint(nextPageToken: next)
        global.emit(
            json: .object([("messages", .array(messages.map(\.json))), ("next_page_token", .string(next))]),
            text: text)
    }
}

struct MailRequeue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "requeue",
        abstract: "Queue dead messages again (these ids, or --all), with their attempts reset.",
        discussion: "Ids that are not dead messages are left alone; the count says how many were queued."
    )

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    @Argument(help: ArgumentHelp("Ids of dead messages (from mail dead).", valueName: "id"))
    var ids: [UInt64] = []

    @Flag(help: "Every dead message.")
    var all = false

    func validate() throws {
        if ids.isEmpty, !all { throw ValidationError("name the messages to requeue (ids from `authctl mail dead`) or give --all") }
        if !ids.isEmpty, all { throw ValidationError("give ids or --all, not both") }
    }

    func run() async throws {
        // An empty list asks the server for every dead message, hence the explicit --all.
        let requeued = try await global.withAdmin { admin in
            try await admin.requeueMessages(AuthV1.RequeueMessagesRequest(ids: all ? [] : ids)).requeued
        }
        var text = "Requeued \(requeued) message\(requeued == 1 ? "" : "s")."
        if !all, requeued < Set(ids).count {
            text += " \(Set(ids).count - Int(requeued)) of the ids given are not dead messages."
        }
        global.emit(json: .object([("requeued", .uint(UInt64(requeued)))]), text: text)
    }
}

extension AuthV1.DeadMessage {
    var json: JSON {
        .object([
            ("id", .uint(id)),
            ("recipient", .string(recipient)),
            ("subject", .string(subject)),
            ("attempts", .uint(UInt64(attempts))),
            ("last_error", .string(lastError)),
            ("created_at_ms", .int(createdAtMs)),
        ])
    }
}
