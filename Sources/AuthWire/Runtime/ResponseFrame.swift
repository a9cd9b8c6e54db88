internal import CAuthProto
internal import CProtobufC

extension AuthV1.Frame {
    /// Packs a RESPONSE frame from its parts: the bytes that a `Frame` of kind `.response`
    /// with this `callID`, `status`, `payload` and the one metadata entry `metadataKey` =
    /// `metadataValue` (UTF-8) encodes to, without building that struct, its metadata
    /// dictionary or a copy of the payload. The server answers every call through here:
    /// the envelope costs no allocation (for an OK status, none at all).
    ///
    /// `write` is handed the packed size and a function that packs into that many bytes at
    /// an address (returning the count written). Not generic, so that nothing on the way
    /// needs type metadata made at run time.
    public static func packResponse(
        callID: UInt64,
        metadataKey: String,
        metadataValue: UnsafeRawBufferPointer,
        status: AuthV1.Status,
        payload: UnsafeRawBufferPointer,
        _ write: (_ size: Int, _ pack: (UnsafeMutableRawPointer) -> Int) -> Void
    ) {
        // protobuf-c would cut the value at a NUL without a word: refuse it here.
        precondition(!metadataValue.contains(0), "a metadata value holding NUL cannot be packed")
        var key = metadataKey
        key.withUTF8 { key in
            // protobuf-c packs NUL-terminated strings: both get their terminator on the stack.
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: key.count + metadataValue.count + 2) { text in
                let keyString = text.baseAddress!
                let valueString = keyString + key.count + 1
                copyTerminated(UnsafeRawBufferPointer(key), to: keyString)
                copyTerminated(metadataValue, to: valueString)
                var entry = Auth__V1__Frame__MetadataEntry()
                auth__v1__frame__metadata_entry__init(&entry)
                entry.key = keyString
                entry.value = valueString
                withUnsafeMutablePointer(to: &entry) { entry in
                    var entries: UnsafeMutablePointer<Auth__V1__Frame__MetadataEntry>? = entry
                    withUnsafeMutablePointer(to: &entries) { entries in
                        withStatus(status) { status in
                            var frame = Auth__V1__Frame()
                            auth__v1__frame__init(&frame)
                            frame.kind = AUTH__V1__FRAME_KIND__FRAME_KIND_RESPONSE
                            frame.call_id = callID
                            frame.payload = ProtobufCBinaryData(
                                len: payload.count,
                                data: payload.isEmpty
                                    ? nil : UnsafeMutablePointer(mutating: payload.baseAddress!.assumingMemoryBound(to: UInt8.self))
                            )
                            frame.status = status
                            frame.n_metadata = 1
                            frame.metadata = entries
                            withUnsafePointer(to: &frame) { frame in
                                write(auth__v1__frame__get_packed_size(frame)) { destination in
                                    auth__v1__frame__pack(frame, destination.assumingMemoryBound(to: UInt8.self))
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    private static func copyTerminated(_ bytes: UnsafeRawBufferPointer, to destination: UnsafeMutablePointer<CChar>) {
        if let base = bytes.baseAddress {
            UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: bytes.count)
        }
        destination[bytes.count] = 0
    }

    /// Lends `status` as a C struct: on the stack when it is a bare code (every OK answer),
    /// else built in an arena by the generated code.
    private static func withStatus(_ status: AuthV1.Status, _ body: (UnsafeMutablePointer<Auth__V1__Status>) -> Void) {
        guard status.message.isEmpty, status.fieldViolations.isEmpty else {
            let arena = CArena()
            withExtendedLifetime(arena) { body(status.cMessage(in: arena)) }
            return
        }
        var c = Auth__V1__Status()
        auth__v1__status__init(&c)
        c.code = Auth__V1__Code(rawValue: .init(truncatingIfNeeded: status.code.rawValue))
        c.retry_after_ms = status.retryAfterMs
        withUnsafeMutablePointer(to: &c, body)
    }
}
