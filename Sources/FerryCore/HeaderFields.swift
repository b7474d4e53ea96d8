// An ordered list of header fields with lower-case names: HTTP/1.1 headers, HTTP/2
// headers, gRPC metadata and trailers all use it.
//
// Stored as bytes, not Strings: every name and value of a block sits in one byte buffer and
// each field is three offsets into it. A request's headers cost two allocations however many
// fields it has, lookups compare bytes, and blocks are copied onward (HTTP/1.1 → HTTP/2 →
// HTTP/1.1) with memcpy instead of a String per field.
//
// The two arrays are storage, not contents: they are grown in steps and filled in place, and
// `byteCount`/`entryCount` say how much of them is in use. Appending is then a memcpy and
// emptying a block is two stores, where `Array.append(contentsOf:)` and
// `removeAll(keepingCapacity:)` go through the standard library's generic paths, about 90
// instructions each (issue 19: a call appends and empties a dozen times).

import Glibc

/// One header field as Strings, for building blocks and reading them outside the hot path.
/// Names are lower-case (RFC 9113 §8.2.2 requires it on HTTP/2, and gRPC-Web trailers use
/// lower-case names, PROTOCOL-WEB.md).
public struct HeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// Header fields in arrival order; a name may repeat.
public struct HeaderFields: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// Where a field's name and value lie in `bytes`. Usually the value follows the name;
    /// in a block copied from an HTTP/1.1 section, ": " lies between them.
    private struct Entry: Sendable, Equatable {
        var nameStart: UInt32
        var nameEnd: UInt32
        var valueStart: UInt32
        var valueEnd: UInt32

        func shifted(by shift: Int) -> Entry {
            Entry(
                nameStart: UInt32(Int(nameStart) + shift), nameEnd: UInt32(Int(nameEnd) + shift),
                valueStart: UInt32(Int(valueStart) + shift), valueEnd: UInt32(Int(valueEnd) + shift))
        }
    }

    /// Storage: the first `byteCount` bytes hold the fields' names and values.
    private var bytes: [UInt8] = []
    /// Storage: the first `entryCount` entries are the fields.
    private var entries: [Entry] = []
    private var byteCount: UInt32 = 0
    private var entryCount: UInt32 = 0
    /// A bit per field name that may be here (`nameBit`), so that looking up a name that is
    /// not here (most lookups: `connection`, `grpc-timeout`, `traceparent`, …) returns at
    /// once instead of comparing every field's name. Never missing a name's bit, it may hold
    /// bits of names that are gone (`keepFields`).
    @usableFromInline var nameBits: UInt64 = 0

    public init() {}

    /// An empty block with room for `fields` fields of `bytes` bytes in all.
    public init(reservingFields fields: Int, bytes: Int) {
        self.bytes = Array(repeating: 0, count: bytes)
        entries.reserveCapacity(fields)
    }

    /// An empty block that holds a copy of `section`, the bytes its fields will be found in
    /// (an HTTP/1.1 header section): `appendField(name:value:)` then adds each field where
    /// it lies, one memcpy for the whole section instead of two per field.
    public init(copying section: UnsafeRawBufferPointer, reservingFields fields: Int) {
        bytes = Array(section)
        byteCount = UInt32(section.count)
        entries.reserveCapacity(fields)
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { append(name: name, value: value) }
    }

    public var count: Int { Int(entryCount) }
    public var isEmpty: Bool { entryCount == 0 }

    /// The indices of the fields.
    private var fieldIndices: Range<Int> { 0..<Int(entryCount) }

    // MARK: Building

    /// Appends a field; ASCII letters of the name are lower-cased.
    public mutating func append(name: String, value: String) {
        // Read in place (native and small Strings have contiguous UTF-8): `withUTF8` would
        // need a mutable copy of each String, a retain and a release per field.
        let appended: Void? =
            name.utf8.withContiguousStorageIfAvailable { name in
                value.utf8.withContiguousStorageIfAvailable { value in
                    append(name: UnsafeRawBufferPointer(name), value: UnsafeRawBufferPointer(value))
                }
            } ?? nil
        guard appended == nil else { return }
        Array(name.utf8).withUnsafeBytes { name in Array(value.utf8).withUnsafeBytes { value in append(name: name, value: value) } }
    }

    /// Appends a field from raw bytes; ASCII letters of the name are lower-cased.
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        appendCopy(name: name, value: value, lowerCasing: true)
    }

    /// Appends a field whose name is known to be lower-case already, as it is: a name nghttp2
    /// hands over (it refuses a block holding an upper-case name, RFC 9113 §8.2.1). Saves
    /// rewriting bytes just copied, which the processor pays for beyond their instructions.
    public mutating func append(lowerCaseName name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        appendCopy(name: name, value: value, lowerCasing: false)
    }

    @inline(__always)
    private mutating func appendCopy(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, lowerCasing: Bool) {
        let nameStart = Int(byteCount)
        let valueStart = nameStart + name.count
        let valueEnd = valueStart + value.count
        if valueEnd > bytes.count { growBytes(toHold: valueEnd) }
        nameBits |= bytes.withUnsafeMutableBytes { stored in
            // No storage only when nothing is stored yet and this field is empty too.
            guard let base = stored.baseAddress else { return Self.nameBit(length: 0, last: 0) }
            if let name = name.baseAddress { (base + nameStart).copyMemory(from: name, byteCount: valueStart - nameStart) }
            if let value = value.baseAddress { (base + valueStart).copyMemory(from: value, byteCount: valueEnd - valueStart) }
            guard lowerCasing else {
                return Self.nameBit(length: name.count, last: name.isEmpty ? 0 : name[name.count - 1])
            }
            return Self.lowerCaseName(at: base + nameStart, length: valueStart - nameStart)
        }
        byteCount = UInt32(valueEnd)
        appendEntry(
            Entry(
                nameStart: UInt32(nameStart), nameEnd: UInt32(valueStart), valueStart: UInt32(valueStart),
                valueEnd: UInt32(valueEnd)))
    }

    /// `bytes` grown to hold at least `needed` bytes: doubled, so that appends cost a memcpy
    /// each on average. The new bytes are zeros until written.
    private mutating func growBytes(toHold needed: Int) {
        let grown = Swift.max(needed, bytes.count * 2, 256)
        bytes.append(contentsOf: repeatElement(0, count: grown - bytes.count))
    }

    @inline(__always)
    private mutating func appendEntry(_ entry: Entry) {
        // Entries past `entryCount` are spare (a block emptied in place): reused before the
        // array grows. Storage is reserved, not filled (`Array(repeating:count:)` goes through
        // the standard library's unspecialized generic path, about 550 instructions a block).
        if Int(entryCount) == entries.count {
            entries.append(entry)
        } else {
            entries[Int(entryCount)] = entry
        }
        entryCount += 1
    }

    /// Adds the field whose name and value lie at these offsets of the copied section
    /// (`init(copying:reservingFields:)`); ASCII letters of the name are lower-cased there.
    public mutating func appendField(name: Range<Int>, value: Range<Int>) {
        nameBits |= bytes.withUnsafeMutableBytes { Self.lowerCaseName(at: $0.baseAddress! + name.lowerBound, length: name.count) }
        // A field's bytes are read as name then value: what lies between them is never read.
        appendEntry(
            Entry(
                nameStart: UInt32(name.lowerBound), nameEnd: UInt32(name.upperBound),
                valueStart: UInt32(value.lowerBound), valueEnd: UInt32(value.upperBound)))
    }

    /// The bit of `nameBits` (and of `FieldNameSet`'s filter) for a name of `length` bytes
    /// ending in `last` (lower-case): the length and last byte tell the common names apart
    /// (`content-type` and `grpc-timeout` have the same length, `connection` and `user-agent`
    /// too).
    @inlinable
    static func nameBit(length: Int, last: UInt8) -> UInt64 {
        1 << UInt64((Int(last) &+ length &* 5) & 63)
    }

    /// Lower-cases the ASCII letters of the stored name at `start` and returns its bit for
    /// `nameBits`. Eight bytes at a time (header names are mostly 4 to 20 bytes long); the last
    /// word overlaps the one before it, which is harmless since lower-casing twice changes
    /// nothing, and a name shorter than a word is done as two overlapping halves.
    private static func lowerCaseName(at start: UnsafeMutableRawPointer, length: Int) -> UInt64 {
        func lowerCaseWord(at offset: Int) {
            let word = start.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            start.storeBytes(of: lowerCasedASCII(word), toByteOffset: offset, as: UInt64.self)
        }
        func lowerCaseHalf(at offset: Int) {
            let half = UInt64(start.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
            start.storeBytes(of: UInt32(truncatingIfNeeded: lowerCasedASCII(half)), toByteOffset: offset, as: UInt32.self)
        }
        if length >= 8 {
            var offset = 0
            while offset + 8 < length {
                lowerCaseWord(at: offset)
                offset += 8
            }
            lowerCaseWord(at: length - 8)
        } else if length >= 4 {
            lowerCaseHalf(at: 0)
            lowerCaseHalf(at: length - 4)
        } else {
            for offset in 0..<length {
                let byte = start.load(fromByteOffset: offset, as: UInt8.self)
                if byte >= 0x41 && byte <= 0x5A { start.storeBytes(of: byte + 0x20, toByteOffset: offset, as: UInt8.self) }
            }
        }
        return nameBit(length: length, last: length == 0 ? 0 : start.load(fromByteOffset: length - 1, as: UInt8.self))
    }

    /// The eight bytes of `word` with `A`–`Z` lower-cased. Adding 0x3F to a byte's low seven
    /// bits sets its high bit when it is at least `A` (0x41); adding 0x25, when it is past `Z`
    /// (0x5A). No sum carries into the next byte, and bytes with their own high bit set are
    /// left alone. Each upper-case byte's 0x80 shifted right by two is its 0x20.
    static func lowerCasedASCII(_ word: UInt64) -> UInt64 {
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let low = word & ~highBits
        let atLeastA = low &+ 0x3F3F_3F3F_3F3F_3F3F
        let pastZ = low &+ 0x2525_2525_2525_2525
        let upperCase = atLeastA & ~pastZ & ~word & highBits
        return word | upperCase >> 2
    }

    /// Appends field `index` of `other` unchanged.
    public mutating func append(_ other: HeaderFields, at index: Int) {
        let entry = other.entries[index]
        let start = Int(byteCount)
        appendBytes(of: other, Int(entry.nameStart)..<Int(entry.valueEnd))
        appendEntry(entry.shifted(by: start - Int(entry.nameStart)))
        nameBits |= other.nameBits
    }

    /// Appends `other`'s stored bytes in `range`.
    private mutating func appendBytes(of other: HeaderFields, _ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let start = Int(byteCount)
        if start + range.count > bytes.count { growBytes(toHold: start + range.count) }
        other.bytes.withUnsafeBytes { source in
            bytes.withUnsafeMutableBytes { stored in
                (stored.baseAddress! + start).copyMemory(from: source.baseAddress! + range.lowerBound, byteCount: range.count)
            }
        }
        byteCount = UInt32(start + range.count)
    }

    /// Leaves out the fields whose name `isKept` says no to, in place. `isKept` is asked once
    /// per field, in order, with the name's bytes (lower-case) read in place: a block this value
    /// alone holds (a request's head handed on as its metadata) loses fields without a new
    /// list, and nothing is copied before the first field that goes (a shared list then gets
    /// its own copy).
    public mutating func keepFields(whereName isKept: (UnsafeRawBufferPointer) -> Bool) {
        let total = Int(entryCount)
        var kept = 0
        bytes.withUnsafeBytes { bytes in
            func name(_ entry: Entry) -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(rebasing: bytes[Int(entry.nameStart)..<Int(entry.nameEnd)])
            }
            kept = entries.withUnsafeBufferPointer { entries in
                var index = 0
                while index < total && isKept(name(entries[index])) { index += 1 }
                return index
            }
            guard kept < total else { return }
            entries.withUnsafeMutableBufferPointer { entries in
                for index in (kept + 1)..<total where isKept(name(entries[index])) {
                    entries[kept] = entries[index]
                    kept += 1
                }
            }
        }
        entryCount = UInt32(kept)
    }

    /// The fields that are not pseudo-header fields (`:method`, `:path`, …; RFC 9113 §8.3): an
    /// HTTP/2 request's headers, or a gRPC call's metadata.
    public var withoutPseudoFields: HeaderFields {
        var fields = self
        fields.removePseudoFields()
        return fields
    }

    /// Leaves out the pseudo-header fields, in place (`keepFields`).
    public mutating func removePseudoFields() {
        keepFields { name in !name.hasPrefix(":") }
    }

    /// No fields, the storage kept for the next ones (a buffer reused per request).
    public mutating func removeAll() {
        byteCount = 0
        entryCount = 0
        nameBits = 0
    }

    public mutating func append(contentsOf other: HeaderFields) {
        let shift = Int(byteCount)
        appendBytes(of: other, 0..<Int(other.byteCount))
        for index in other.fieldIndices { appendEntry(other.entries[index].shifted(by: shift)) }
        nameBits |= other.nameBits
    }

    // MARK: Reading bytes (the hot path)

    public func nameBytes(at index: Int) -> ArraySlice<UInt8> {
        let entry = entries[index]
        return bytes[Int(entry.nameStart)..<Int(entry.nameEnd)]
    }

    public func valueBytes(at index: Int) -> ArraySlice<UInt8> {
        let entry = entries[index]
        return bytes[Int(entry.valueStart)..<Int(entry.valueEnd)]
    }

    /// Whether the name of field `index` starts with `prefix` (given lower-case), read in place
    /// (`nameBytes` would retain the buffer for its slice).
    public func name(at index: Int, hasPrefix prefix: StaticString) -> Bool {
        withName(at: index) { $0.hasPrefix(prefix) }
    }

    /// The index of the first field named `name` (given lower-case). Inlinable, with the
    /// lookups built on it: for a literal name the bit test folds to one AND, and most names
    /// asked about are not there (`grpc-timeout`, `traceparent`, `origin`, …).
    @inlinable
    public func firstIndex(of name: StaticString) -> Int? {
        let length = name.utf8CodeUnitCount
        guard nameBits & Self.nameBit(length: length, last: length == 0 ? 0 : name.utf8Start[length - 1]) != 0 else { return nil }
        return firstIndex(comparing: name)
    }

    /// `firstIndex(of:)` past the bit test: the names compared.
    @usableFromInline
    func firstIndex(comparing name: StaticString) -> Int? {
        let length = name.utf8CodeUnitCount
        // Both storages read in place once, not once per field.
        return entries.withUnsafeBufferPointer { entries in
            bytes.withUnsafeBufferPointer { bytes in
                for index in fieldIndices {
                    let entry = entries[index]
                    guard Int(entry.nameEnd - entry.nameStart) == length else { continue }
                    if length == 0 || memoryEqual(bytes.baseAddress! + Int(entry.nameStart), name.utf8Start, length) { return index }
                }
                return nil
            }
        }
    }

    /// The index of the first field whose name contains `byte` (both storages read in place
    /// once, not once per field).
    public func firstIndex(whereNameContains byte: UInt8) -> Int? {
        entries.withUnsafeBufferPointer { entries in
            bytes.withUnsafeBytes { bytes in
                // Most blocks hold the byte nowhere, names or values (`_`, asked of every
                // request): one memchr over the whole storage tells, where a search name by
                // name took about 60 instructions a field.
                guard let base = bytes.baseAddress, memchr(base, Int32(byte), Int(byteCount)) != nil else { return nil }
                return fieldIndices.first { index in
                    Self.contains(
                        byte, or: byte,
                        in: UnsafeRawBufferPointer(rebasing: bytes[Int(entries[index].nameStart)..<Int(entries[index].nameEnd)]))
                }
            }
        }
    }

    /// Whether `bytes` hold `byte` or `other`: eight at a time, by the exact zero-byte test
    /// ("Bit Twiddling Hacks") on the word XOR each byte repeated; the tail byte by byte.
    @inline(__always)
    fileprivate static func contains(_ byte: UInt8, or other: UInt8, in bytes: UnsafeRawBufferPointer) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        func hasZeroByte(_ word: UInt64) -> Bool { (word &- ones) & ~word & (ones << 7) != 0 }
        var offset = 0
        while offset + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            if hasZeroByte(word ^ (UInt64(byte) &* ones)) || hasZeroByte(word ^ (UInt64(other) &* ones)) { return true }
            offset += 8
        }
        while offset < bytes.count {
            if bytes[offset] == byte || bytes[offset] == other { return true }
            offset += 1
        }
        return false
    }

    /// Calls `body` with the name bytes of field `index`, read in place (`nameBytes` would
    /// retain the storage for its slice).
    @inline(__always)
    public func withName<Result>(at index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let entry = entries[index]
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(entry.nameStart)..<Int(entry.nameEnd)])) }
    }

    /// The value bytes of the first field named `name` (given lower-case).
    @inlinable
    public func firstValueBytes(_ name: StaticString) -> ArraySlice<UInt8>? {
        firstIndex(of: name).map { valueBytes(at: $0) }
    }

    /// Whether the first field named `name` (given lower-case) has the value `value`, compared
    /// in place (`firstValueBytes` would retain the storage for its slice).
    @inlinable
    public func firstValue(of name: StaticString, is value: StaticString) -> Bool {
        firstValue(of: name, startsWith: value, wholly: true)
    }

    /// Whether the value of the first field named `name` (given lower-case) starts with `prefix`.
    @inlinable
    public func firstValue(of name: StaticString, hasPrefix prefix: StaticString) -> Bool {
        firstValue(of: name, startsWith: prefix, wholly: false)
    }

    @inlinable @inline(__always)
    func firstValue(of name: StaticString, startsWith prefix: StaticString, wholly: Bool) -> Bool {
        withFirstValue(of: name) { value in wholly ? value.equals(prefix) : value.hasPrefix(prefix) } ?? false
    }

    /// Calls `body` with the value bytes of the first field named `name` (given lower-case),
    /// read in place; nil when there is none (`firstValueBytes` would retain the storage for
    /// its slice: two atomic operations).
    @inlinable @inline(__always)
    public func withFirstValue<Result>(of name: StaticString, _ body: (UnsafeRawBufferPointer) -> Result) -> Result? {
        firstIndex(of: name).map { withValue(at: $0, body) }
    }

    /// Calls `body` with the value bytes of field `index`, read in place.
    @inline(__always)
    public func withValue<Result>(at index: Int, _ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        let entry = entries[index]
        return bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[Int(entry.valueStart)..<Int(entry.valueEnd)])) }
    }

    /// Calls `body` with the name and value bytes of every field, in order.
    public func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { buffer in
            for entry in entries[fieldIndices] {
                try body(
                    UnsafeRawBufferPointer(rebasing: buffer[Int(entry.nameStart)..<Int(entry.nameEnd)]),
                    UnsafeRawBufferPointer(rebasing: buffer[Int(entry.valueStart)..<Int(entry.valueEnd)]))
            }
        }
    }

    /// Calls `body` with the bytes every name and value is stored in; `ranges(at:)` locates
    /// field `index` in them (for C APIs that take pointers, such as nghttp2's header blocks).
    public func withUnsafeStorage<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    public func ranges(at index: Int) -> (name: Range<Int>, value: Range<Int>) {
        let entry = entries[index]
        return (Int(entry.nameStart)..<Int(entry.nameEnd), Int(entry.valueStart)..<Int(entry.valueEnd))
    }

    // MARK: Writing

    /// The bytes `writeFieldLines` writes at most: a line for every field.
    public func fieldLinesCapacity(separator: StaticString) -> Int {
        let extra = separator.utf8CodeUnitCount + 2
        var capacity = 0
        for entry in entries[fieldIndices] {
            capacity += Int(entry.nameEnd - entry.nameStart) + Int(entry.valueEnd - entry.valueStart) + extra
        }
        return capacity
    }

    /// Writes a line `name` `separator` `value` CRLF for each field `isIncluded` says yes to at
    /// `target` (room for `fieldLinesCapacity(separator:)` bytes) and returns how many bytes it
    /// wrote: HTTP/1.1 field lines (RFC 9112 §5) and gRPC-Web trailer blocks (PROTOCOL-WEB.md). CR
    /// and LF are left out of values, so that a value from an upstream can never split a line.
    public func writeFieldLines(
        separator: StaticString, into target: UnsafeMutablePointer<UInt8>,
        where isIncluded: (HeaderFields, Int) -> Bool = { _, _ in true }
    ) -> Int {
        bytes.withUnsafeBufferPointer { stored in
            var count = 0
            func write(_ source: UnsafePointer<UInt8>, _ length: Int) {
                (target + count).update(from: source, count: length)
                count += length
            }
            for index in fieldIndices where isIncluded(self, index) {
                let entry = entries[index]
                write(stored.baseAddress! + Int(entry.nameStart), Int(entry.nameEnd - entry.nameStart))
                write(separator.utf8Start, separator.utf8CodeUnitCount)
                let value = UnsafeBufferPointer(rebasing: stored[Int(entry.valueStart)..<Int(entry.valueEnd)])
                if Self.contains(0x0D, or: 0x0A, in: UnsafeRawBufferPointer(value)) {
                    for byte in value where byte != 0x0D && byte != 0x0A {
                        target[count] = byte
                        count += 1
                    }
                } else if let start = value.baseAddress {
                    write(start, value.count)
                }
                target[count] = 0x0D
                target[count + 1] = 0x0A
                count += 2
            }
            return count
        }
    }

    /// Appends the field lines `writeFieldLines` writes to `out`, written there in place.
    public func appendFieldLines(
        separator: StaticString, to out: inout WriteBuffer, where isIncluded: (HeaderFields, Int) -> Bool = { _, _ in true }
    ) {
        out.append(upTo: fieldLinesCapacity(separator: separator)) { lines in
            writeFieldLines(separator: separator, into: lines, where: isIncluded)
        }
    }

    // MARK: Reading Strings

    public subscript(index: Int) -> HeaderField {
        HeaderField(
            name: String(decoding: nameBytes(at: index), as: UTF8.self),
            value: String(decoding: valueBytes(at: index), as: UTF8.self))
    }

    /// The first value for `name` (lower-case).
    public subscript(name: String) -> String? {
        fieldIndices.first { self.name(at: $0, equals: name) }.map { String(decoding: valueBytes(at: $0), as: UTF8.self) }
    }

    /// Every value for `name` (lower-case), in order.
    public func values(for name: String) -> [String] {
        fieldIndices.compactMap { self.name(at: $0, equals: name) ? String(decoding: valueBytes(at: $0), as: UTF8.self) : nil }
    }

    private func name(at index: Int, equals name: String) -> Bool {
        nameBytes(at: index).elementsEqual(name.utf8)
    }

    public func makeIterator() -> AnyIterator<HeaderField> {
        var index = 0
        return AnyIterator {
            guard index < self.count else { return nil }
            defer { index += 1 }
            return self[index]
        }
    }

    /// Equal when the same fields come in the same order (storage layout aside).
    public static func == (lhs: HeaderFields, rhs: HeaderFields) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.fieldIndices.allSatisfy {
            lhs.nameBytes(at: $0).elementsEqual(rhs.nameBytes(at: $0)) && lhs.valueBytes(at: $0).elementsEqual(rhs.valueBytes(at: $0))
        }
    }
}

extension Array<UInt8> {
    /// Appends the bytes of a literal, read in place: `append(contentsOf: "…".utf8)` goes
    /// through the String's UTF-8 view, a retain and a release each time (HTTP/1.1 framing
    /// writes a dozen such pieces per response).
    @inlinable
    public mutating func append(ascii literal: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }
}

extension ArraySlice<UInt8> {
    /// Whether `lowercase` occurs in these bytes, ASCII letters compared case-insensitively
    /// (media types in `Accept`, for instance).
    public func containsCaseInsensitive(_ lowercase: StaticString) -> Bool {
        let count = lowercase.utf8CodeUnitCount
        guard self.count >= count else { return false }
        let needle = lowercase.utf8Start
        var start = startIndex
        while start + count <= endIndex {
            var offset = 0
            while offset < count {
                let byte = self[start + offset]
                let lowered = byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte
                if lowered != needle[offset] { break }
                offset += 1
            }
            if offset == count { return true }
            start += 1
        }
        return false
    }
}

extension UnsafeRawBufferPointer {
    /// Whether the bytes hold `byte` (a field name's `_`).
    public func holds(_ byte: UInt8) -> Bool {
        HeaderFields.contains(byte, or: byte, in: self)
    }

    /// Whether the bytes are `literal`'s, all of them, compared in place.
    @inlinable @inline(__always)
    public func equals(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount && hasPrefix(literal)
    }

    /// Whether the bytes start with `prefix`: a byte compare in place (the generic
    /// `starts(with:)` against a String's UTF-8 view walks both as sequences).
    @inlinable @inline(__always)
    public func hasPrefix(_ prefix: StaticString) -> Bool {
        let length = prefix.utf8CodeUnitCount
        guard count >= length else { return false }
        return length == 0 || memoryEqual(baseAddress!.assumingMemoryBound(to: UInt8.self), prefix.utf8Start, length)
    }
}

/// Header names and the values compared with them are short: compared inline, eight bytes at a
/// time (the last word overlapping the one before it), which beats a call to memcmp and a byte
/// loop both.
@inline(__always)
@inlinable
func memoryEqual(_ lhs: UnsafePointer<UInt8>, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    let left = UnsafeRawPointer(lhs)
    let right = UnsafeRawPointer(rhs)
    if count >= 8 {
        var offset = 0
        while offset + 8 < count {
            guard
                left.loadUnaligned(fromByteOffset: offset, as: UInt64.self) == right.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            else { return false }
            offset += 8
        }
        return left.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
            == right.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 {
        return left.loadUnaligned(as: UInt32.self) == right.loadUnaligned(as: UInt32.self)
            && left.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
                == right.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    for offset in 0..<count where lhs[offset] != rhs[offset] { return false }
    return true
}
