// The printer's output: a growable byte buffer with no copy-on-write. A JSON document is built
// from many small appends (a quote, a key, a digit run); on `[UInt8]` each append pays for a
// uniqueness check and the generic append path, which profiling showed as a fifth of the
// printer's time. One owner, one pointer, doubling growth; the bytes become an array once.

final class JSONOutput {
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 256) {
        self.capacity = max(16, capacity)
        storage = .allocate(capacity: self.capacity)
    }

    deinit {
        storage.deallocate()
    }

    /// The bytes written so far.
    var bytes: [UInt8] {
        Array(UnsafeBufferPointer(start: storage, count: count))
    }

    subscript(index: Int) -> UInt8 {
        precondition(index >= 0 && index < count)
        return storage[index]
    }

    @inline(__always)
    private func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    private func grow(to needed: Int) {
        let newCapacity = max(2 * capacity, needed)
        let newStorage = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newStorage.update(from: storage, count: count)
        storage.deallocate()
        storage = newStorage
        capacity = newCapacity
    }

    @inline(__always)
    func append(_ byte: UInt8) {
        reserve(1)
        storage[count] = byte
        count += 1
    }

    func append(contentsOf bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(storage + count).copyMemory(from: base, byteCount: bytes.count)
        count += bytes.count
    }

    func append(contentsOf bytes: UnsafeBufferPointer<UInt8>) {
        append(contentsOf: UnsafeRawBufferPointer(bytes))
    }

    func append(contentsOf bytes: [UInt8]) {
        bytes.withUnsafeBytes { append(contentsOf: $0) }
    }

    func append(contentsOf text: StaticString) {
        append(contentsOf: UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    func append(contentsOf text: String) {
        var text = text
        text.withUTF8 { append(contentsOf: $0) }
    }

    /// Room for `maximum` bytes handed to `body`, which returns how many it wrote.
    func appendInPlace(maximum: Int, _ body: (UnsafeMutableBufferPointer<UInt8>) -> Int) {
        reserve(maximum)
        count += body(UnsafeMutableBufferPointer(start: storage + count, count: maximum))
    }

    func removeLast(_ n: Int) {
        precondition(n <= count)
        count -= n
    }

    func removeSubrange(from start: Int) {
        precondition(start <= count)
        count = start
    }

    func remove(at index: Int) {
        precondition(index < count)
        (storage + index).update(from: storage + index + 1, count: count - index - 1)
        count -= 1
    }

    func insert(_ byte: UInt8, at index: Int) {
        precondition(index <= count)
        reserve(1)
        (storage + index + 1).update(from: storage + index, count: count - index)
        storage[index] = byte
        count += 1
    }
}
