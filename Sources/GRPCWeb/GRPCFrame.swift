// One length-prefixed message of the gRPC wire format (PROTOCOL-HTTP2.md, "Length-Prefixed-Message").

/// A decoded frame: flags byte and payload.
public struct GRPCFrame: Sendable, Equatable {
    /// Bit 0: the payload is compressed (PROTOCOL-HTTP2.md).
    public static let compressedFlag: UInt8 = 0x01
    /// Bit 7: the payload is the trailer block (PROTOCOL-WEB.md; responses only).
    public static let trailerFlag: UInt8 = 0x80
    public static let headerLength = 5

    public var flags: UInt8
    public var payload: [UInt8]

    public init(flags: UInt8, payload: [UInt8]) {
        self.flags = flags
        self.payload = payload
    }

    public var isCompressed: Bool { flags & GRPCFrame.compressedFlag != 0 }
    public var isTrailer: Bool { flags & GRPCFrame.trailerFlag != 0 }

    /// The 5-byte prefix for a payload of `length` bytes.
    public static func header(flags: UInt8, length: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: headerLength) { prefix, count in
            writeHeader(flags: flags, length: length, at: prefix.baseAddress!)
            count = headerLength
        }
    }

    /// Writes the 5-byte prefix for a payload of `length` bytes at `prefix` (the payload written
    /// after it in the same storage).
    public static func writeHeader(flags: UInt8, length: Int, at prefix: UnsafeMutablePointer<UInt8>) {
        let length = UInt32(length)
        prefix[0] = flags
        prefix[1] = UInt8(truncatingIfNeeded: length >> 24)
        prefix[2] = UInt8(truncatingIfNeeded: length >> 16)
        prefix[3] = UInt8(truncatingIfNeeded: length >> 8)
        prefix[4] = UInt8(truncatingIfNeeded: length)
    }

    /// Prefix and payload, ready for the wire.
    public var serialized: [UInt8] {
        GRPCFrame.header(flags: flags, length: payload.count) + payload
    }
}
