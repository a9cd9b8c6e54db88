#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
internal import CProtobufC
import CAuthProto

/// A bump allocator for the C structs that protobuf-c packs from.
///
/// Encoding a message builds its C struct tree (strings, arrays, nested structs) in
/// one arena; everything is freed at once when the arena goes away, so no path can
/// leak a piece of it. Most messages fit in the first block: one malloc per encode.
final class CArena {
    private static let blockSize = 4096
    private static let alignment = 16

    private var blocks: [UnsafeMutableRawPointer] = []
    private var cursor: UnsafeMutableRawPointer?
    private var remaining = 0

    init() {}

    deinit {
        for block in blocks {
            free(block)
        }
    }

    func allocateBytes(_ count: Int) -> UnsafeMutablePointer<UInt8> {
        allocateRaw(count).bindMemory(to: UInt8.self, capacity: max(count, 1))
    }

    /// Zeroed storage for `count` values of `type`.
    func allocate<T>(_ type: T.Type, count: Int = 1) -> UnsafeMutablePointer<T> {
        let size = MemoryLayout<T>.stride * count
        let raw = allocateRaw(size)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        return raw.bindMemory(to: T.self, capacity: count)
    }

    /// A NUL-terminated copy of `string`.
    func string(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            let destination = allocateRaw(utf8.count + 1).bindMemory(to: CChar.self, capacity: utf8.count + 1)
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: utf8.count)
            }
            destination[utf8.count] = 0
            return destination
        }
    }

    func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let destination = allocateBytes(bytes.count)
        bytes.withUnsafeBytes { UnsafeMutableRawPointer(destination).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        return ProtobufCBinaryData(len: bytes.count, data: destination)
    }

    private func allocateRaw(_ count: Int) -> UnsafeMutableRawPointer {
        let rounded = max((count + Self.alignment - 1) & ~(Self.alignment - 1), Self.alignment)
        if rounded > remaining {
            let size = max(rounded, Self.blockSize)
            guard let block = malloc(size) else { fatalError("out of memory") }
            blocks.append(block)
            if rounded >= Self.blockSize {
                // A large allocation gets a block of its own; keep bumping in the current one.
                return block
            }
            cursor = block
            remaining = size
        }
        let result = cursor!
        cursor = result + rounded
        remaining -= rounded
        return result
    }
}
