// The standard library's `withUnsafeBytes` and `withContiguousStorageIfAvailable` are
// `rethrows`: a body with typed throws comes out as `any Error`. This keeps the error's type.

/// Calls `body` with the bytes of `bytes` (contiguous storage when it has some, else a copy),
/// rethrowing `body`'s typed error. Inlinable: specialized in the caller's module, it costs what
/// a plain `withUnsafeBytes` costs; unspecialized, it went through protocol witnesses and boxes.
@inlinable
public func withTypedUnsafeBytes<Bytes: Collection, R, E: Error>(
    _ bytes: Bytes, _ body: (UnsafeRawBufferPointer) throws(E) -> R
) throws(E) -> R where Bytes.Element == UInt8 {
    var result: Result<R, E>?
    let contiguous: Void? = bytes.withContiguousStorageIfAvailable { buffer in
        result = Result { () throws(E) -> R in try body(UnsafeRawBufferPointer(buffer)) }
    }
    if contiguous == nil {
        Array(bytes).withUnsafeBytes { buffer in result = Result { () throws(E) -> R in try body(buffer) } }
    }
    return try result!.get()
}
