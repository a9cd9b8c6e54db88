internal import Foundation
internal import NIOCore
internal import NIOPosix

public struct TestHTTPError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// One HTTP/1.1 GET over a fresh TCP connection (`Connection: close`), read to the end:
/// the status code and the body. Enough for the management port's plain answers; tests
/// talk to the real server over a real socket, not to a handler.
public func httpGet(host: String, port: Int, path: String) async throws -> (status: Int, body: String) {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    var received = ByteBuffer()
    try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"))
        for try await var chunk in inbound {
            received.writeBuffer(&chunk)
        }
    }
    let text = String(buffer: received)
    guard let headEnd = text.range(of: "\r\n\r\n") else { throw TestHTTPError("no HTTP head in \(text.prefix(200))") }
    let statusLine = text[..<headEnd.lowerBound].split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { throw TestHTTPError("bad status line \(statusLine)") }
    let head = text[..<headEnd.lowerBound].lowercased()
    var body = String(text[headEnd.upperBound...])
    if head.contains("transfer-encoding: chunked") {
        body = dechunked(body)
    }
    return (status, body)
}

private func dechunked(_ text: String) -> String {
    var rest = Substring(text)
    var out = ""
    while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
        let start = lineEnd.upperBound
        let bytes = Array(rest[start...].utf8)
        guard bytes.count >= size else { break }
        out += String(decoding: bytes[..<size], as: UTF8.self)
        rest = Substring(String(decoding: bytes[size...], as: UTF8.self)).dropFirst(2)
    }
    return out
}
