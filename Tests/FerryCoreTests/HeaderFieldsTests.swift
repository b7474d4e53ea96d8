import TestSupport
import XCTest

@testable import FerryCore

final class HeaderFieldsTests: XCTestCase {
    func testNamesAreLowerCasedValuesKept() {
        var fields = HeaderFields()
        fields.append(name: "Content-Type", value: "Application/GRPC-Web")
        let name = Array("X-Trace".utf8)
        let value = Array("AbC".utf8)
        name.withUnsafeBytes { name in value.withUnsafeBytes { value in fields.append(name: name, value: value) } }
        XCTAssertEqual(
            Array(fields),
            [
                HeaderField(name: "content-type", value: "Application/GRPC-Web"),
                HeaderField(name: "x-trace", value: "AbC"),
            ])
    }

    func testALowerCaseNameIsAppendedAsItIs() {
        var fields = HeaderFields()
        Array("grpc-status".utf8).withUnsafeBytes { name in
            Array("0".utf8).withUnsafeBytes { fields.append(lowerCaseName: name, value: $0) }
        }
        let empty = UnsafeRawBufferPointer(start: nil, count: 0)
        fields.append(lowerCaseName: empty, value: empty)
        XCTAssertEqual(Array(fields), [HeaderField(name: "grpc-status", value: "0"), HeaderField(name: "", value: "")])
        XCTAssertEqual(fields.firstIndex(of: "grpc-status"), 0)
        XCTAssertTrue(fields.firstValue(of: "grpc-status", is: "0"))
    }

    func testLookupsByStaticName() {
        let fields: HeaderFields = ["host": "a", "x-b": "1", "host": "c", "te": "trailers"]
        XCTAssertEqual(fields.firstIndex(of: "host"), 0)
        XCTAssertNil(fields.firstIndex(of: "hos"))
        XCTAssertEqual(fields[3].name, "te")
        XCTAssertEqual(fields.firstValueBytes("x-b").map { Array($0) }, Array("1".utf8))
        XCTAssertEqual(fields["host"], "a")
        XCTAssertEqual(fields.values(for: "host"), ["a", "c"])
        XCTAssertNil(fields["missing"])
    }

    func testFirstValueComparedInPlace() {
        let fields: HeaderFields = [":status": "200", "content-type": "application/grpc+proto", ":status": "500", "x-e": ""]
        XCTAssertTrue(fields.firstValue(of: ":status", is: "200"))
        XCTAssertFalse(fields.firstValue(of: ":status", is: "500"), "the first field only")
        XCTAssertFalse(fields.firstValue(of: ":status", is: "20"))
        XCTAssertFalse(fields.firstValue(of: ":status", is: "2000"))
        XCTAssertFalse(fields.firstValue(of: "grpc-status", is: "200"))
        XCTAssertTrue(fields.firstValue(of: "x-e", is: ""))
        XCTAssertTrue(fields.firstValue(of: "content-type", hasPrefix: "application/grpc"))
        XCTAssertTrue(fields.firstValue(of: "content-type", hasPrefix: "application/grpc+proto"))
        XCTAssertFalse(fields.firstValue(of: "content-type", hasPrefix: "application/grpc+proto2"))
        XCTAssertFalse(fields.firstValue(of: "content-type", hasPrefix: "application/json"))
        XCTAssertFalse(fields.firstValue(of: "accept", hasPrefix: ""))
    }

    func testCopyingFieldsBetweenBlocksKeepsBoundaries() {
        let source: HeaderFields = ["a": "1", "bb": "22", "ccc": "333"]
        var target: HeaderFields = ["z": "0"]
        target.append(source, at: 1)
        target.append(contentsOf: source)
        XCTAssertEqual(target, ["z": "0", "bb": "22", "a": "1", "bb": "22", "ccc": "333"])
        var visited: [String] = []
        target.forEachField { name, value in
            visited.append(String(decoding: name, as: UTF8.self) + "=" + String(decoding: value, as: UTF8.self))
        }
        XCTAssertEqual(visited, ["z=0", "bb=22", "a=1", "bb=22", "ccc=333"])
    }

    /// Empty names, values and blocks need no storage and are kept as they are.
    func testEmptyFieldsAndBlocks() {
        var fields = HeaderFields()
        fields.append(name: "", value: "")
        fields.append(contentsOf: HeaderFields())
        XCTAssertEqual(fields.count, 1)
        XCTAssertEqual(fields[0], HeaderField(name: "", value: ""))
        var copied = HeaderFields()
        copied.append(fields, at: 0)
        copied.append(contentsOf: fields)
        copied.append(name: "A", value: "")
        XCTAssertEqual(copied, ["": "", "": "", "a": ""])
        var none = HeaderFields()
        none.append(contentsOf: HeaderFields())
        XCTAssertTrue(none.isEmpty)
    }

    func testEqualityIgnoresHowTheBlockWasBuilt() {
        var reserved = HeaderFields(reservingFields: 8, bytes: 512)
        reserved.append(name: "A", value: "1")
        XCTAssertEqual(reserved, ["a": "1"])
        XCTAssertNotEqual(reserved, ["a": "2"])
        XCTAssertNotEqual(reserved, ["a": "1", "b": "2"])
    }

    func testFieldLinesForTheWireDropLineBreaksFromValues() {
        let fields: HeaderFields = ["x-a": "v\r\nInjected: 1", "x-b": "", "x-c": "\n2\r"]
        var out = WriteBuffer()
        out.append(ascii: "HEAD\r\n")
        fields.appendFieldLines(separator: ": ", to: &out)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "HEAD\r\nx-a: vInjected: 1\r\nx-b: \r\nx-c: 2\r\n")
        var trailers = WriteBuffer()
        fields.appendFieldLines(separator: ":", to: &trailers) { _, index in index != 1 }
        XCTAssertEqual(String(decoding: trailers.bytes, as: UTF8.self), "x-a:vInjected: 1\r\nx-c:2\r\n")
        var none = WriteBuffer()
        HeaderFields().appendFieldLines(separator: ": ", to: &none)
        XCTAssertTrue(none.isEmpty)
    }

    func testALineBreakIsDroppedWhereverItIsInTheValue() {
        for length in 1...20 {
            for position in 0..<length {
                for lineBreak in ["\r", "\n"] {
                    var value = Array(repeating: "v", count: length)
                    value[position] = lineBreak
                    let fields: HeaderFields = ["x-a": value.joined()]
                    var out = WriteBuffer()
                    fields.appendFieldLines(separator: ": ", to: &out)
                    XCTAssertEqual(
                        String(decoding: out.bytes, as: UTF8.self), "x-a: \(String(repeating: "v", count: length - 1))\r\n",
                        "length \(length), position \(position)")
                }
            }
        }
    }

    func testFieldLinesOfACopiedSectionAndOfALargeBlock() {
        let section = Array("Host:  a \r\nX-Long: \(String(repeating: "v", count: 3000))\r\n\r\n".utf8)
        var block = section.withUnsafeBytes { HeaderFields(copying: $0, reservingFields: 2) }
        block.appendField(name: 0..<4, value: 7..<8)
        block.appendField(name: 11..<17, value: 19..<3019)
        var out = WriteBuffer(capacity: 16)
        block.appendFieldLines(separator: ": ", to: &out)
        XCTAssertEqual(String(decoding: out.bytes, as: UTF8.self), "host: a\r\nx-long: \(String(repeating: "v", count: 3000))\r\n")
    }

    /// Random blocks built field by field agree with a plain list of pairs (seeded).
    func testAgreesWithAListOfPairs() {
        var generator = SeededGenerator(state: 0xFE44)
        let names = ["host", "Accept", "x-a", "X-A", "grpc-timeout", "te", "a-very-long-header-name-for-growth"]
        for _ in 0..<200 {
            var fields = HeaderFields()
            var model: [(String, String)] = []
            for _ in 0..<Int.random(in: 0...20, using: &generator) {
                let name = names.randomElement(using: &generator)!
                let value = String(repeating: "v", count: Int.random(in: 0...40, using: &generator))
                fields.append(name: name, value: value)
                model.append((name.lowercased(), value))
            }
            XCTAssertEqual(fields.count, model.count)
            for (index, pair) in model.enumerated() {
                XCTAssertEqual(fields[index], HeaderField(name: pair.0, value: pair.1))
            }
            XCTAssertEqual(fields.values(for: "x-a"), model.filter { $0.0 == "x-a" }.map(\.1))
            XCTAssertEqual(fields.firstIndex(of: "host"), model.firstIndex { $0.0 == "host" })
        }
    }

    /// Names are lower-cased eight bytes at a time: every byte value, at every position of a
    /// word and in the bytes after the last whole word, comes out as a byte-by-byte lower-casing
    /// would leave it (only `A`–`Z` change; bytes above 0x7F whose low bits spell a letter do not).
    func testEveryByteOfANameIsLowerCasedAsASCIIAlone() {
        func lowered(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }
        for length in [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 21] {
            for position in 0..<length {
                var names: [[UInt8]] = []
                var fields = HeaderFields()
                var copied = HeaderFields(copying: UnsafeRawBufferPointer(start: nil, count: 0), reservingFields: 0)
                for byte in UInt8.min...UInt8.max {
                    var name = (0..<length).map { UInt8(truncatingIfNeeded: 0x3F + $0 * 7) }
                    name[position] = byte
                    names.append(name)
                    name.withUnsafeBytes { fields.append(name: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
                    name.withUnsafeBytes { copied.append(name: $0, value: UnsafeRawBufferPointer(start: nil, count: 0)) }
                }
                for (index, name) in names.enumerated() {
                    XCTAssertEqual(Array(fields.nameBytes(at: index)), name.map(lowered), "length \(length), byte at \(position)")
                    XCTAssertEqual(Array(copied.nameBytes(at: index)), name.map(lowered))
                }
            }
        }
        let section = Array("X-Forwarded-FOR\u{7F}: v\r\n".utf8) + [0xC1, 0xDA, 0x41, 0x5A, 0x40, 0x5B, 0x60, 0x7B, 0x61]
        var block = section.withUnsafeBytes { HeaderFields(copying: $0, reservingFields: 2) }
        block.appendField(name: 0..<16, value: 18..<19)
        block.appendField(name: 21..<30, value: 30..<30)
        XCTAssertEqual(Array(block.nameBytes(at: 0)), Array("x-forwarded-for\u{7F}".utf8))
        XCTAssertEqual(Array(block.nameBytes(at: 1)), [0xC1, 0xDA, 0x61, 0x7A, 0x40, 0x5B, 0x60, 0x7B, 0x61])
    }

    /// A name is found wherever it is, however the block was built; a name that is not there
    /// is never found, whatever shares its length or last byte (the quick test of `nameBits`).
    func testLookupsAgreeWithAListOfPairsThroughEveryWayOfBuilding() {
        var generator = SeededGenerator(state: 0xB175)
        // content-type and grpc-timeout share a length, connection and user-agent too; te,
        // ae and xe share a length and last byte.
        let names: [StaticString] = ["content-type", "grpc-timeout", "connection", "user-agent", "te", "ae", "xe", "host"]
        let spellings = ["Content-Type", "grpc-timeout", "Connection", "user-agent", "TE", "ae", "xe", "Host"]
        func check(_ fields: HeaderFields, _ model: [String], _ step: String) {
            for (name, spelling) in zip(names, spellings) {
                XCTAssertEqual(fields.firstIndex(of: name), model.firstIndex(of: spelling.lowercased()), "\(step): \(spelling)")
            }
        }
        func randomBlock() -> (HeaderFields, [String]) {
            var fields = HeaderFields()
            var model: [String] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) {
                let spelling = spellings.randomElement(using: &generator)!
                if Bool.random(using: &generator) {
                    fields.append(name: spelling, value: "v")
                } else {
                    // As nghttp2 hands names over: lower-case already, appended as they are.
                    Array(spelling.lowercased().utf8).withUnsafeBytes { name in
                        Array("v".utf8).withUnsafeBytes { fields.append(lowerCaseName: name, value: $0) }
                    }
                }
                model.append(spelling.lowercased())
            }
            return (fields, model)
        }
        for _ in 0..<300 {
            var (fields, model) = randomBlock()
            check(fields, model, "appended")
            let keep = (0..<fields.count).map { _ in Bool.random(using: &generator) }
            var kept = fields
            var asked = 0
            kept.keepFields { _ in
                defer { asked += 1 }
                return keep[asked]
            }
            XCTAssertEqual(asked, fields.count, "each field asked once")
            check(kept, zip(model, keep).filter(\.1).map(\.0), "kept")
            let (other, otherModel) = randomBlock()
            if !other.isEmpty {
                let index = Int.random(in: 0..<other.count, using: &generator)
                fields.append(other, at: index)
                model.append(otherModel[index])
                check(fields, model, "one field of another block")
            }
            fields.append(contentsOf: other)
            check(fields, model + otherModel, "another block")
            fields.removeAll()
            check(fields, [], "emptied")
            fields.append(name: "XE", value: "1")
            check(fields, ["xe"], "refilled")
        }
        let section = Array("Connection: close\r\nTE: trailers\r\n\r\n".utf8)
        var copied = section.withUnsafeBytes { HeaderFields(copying: $0, reservingFields: 2) }
        copied.appendField(name: 0..<10, value: 12..<17)
        copied.appendField(name: 19..<21, value: 23..<31)
        check(copied, ["connection", "te"], "copied section")
    }
}

final class BytePrefixTests: XCTestCase {
    func testBytesStartWithAPrefixOnlyWhenAllOfItIsThere() {
        let bytes = Array("application/grpc+proto".utf8)
        bytes.withUnsafeBytes { bytes in
            XCTAssertTrue(bytes.hasPrefix("application/grpc"))
            XCTAssertTrue(bytes.hasPrefix(""))
            XCTAssertFalse(bytes.hasPrefix("application/grpc-web+proto"))
            XCTAssertFalse(UnsafeRawBufferPointer(rebasing: bytes[12...]).hasPrefix("application"))
            XCTAssertTrue(UnsafeRawBufferPointer(rebasing: bytes[12...]).hasPrefix("grpc+"))
            XCTAssertTrue(UnsafeRawBufferPointer(rebasing: bytes[0..<0]).hasPrefix(""))
            XCTAssertFalse(UnsafeRawBufferPointer(rebasing: bytes[0..<0]).hasPrefix("a"))
            XCTAssertTrue(bytes.equals("application/grpc+proto"))
            XCTAssertFalse(bytes.equals("application/grpc"), "a prefix is not the whole")
            XCTAssertFalse(bytes.equals("application/grpc+proto2"))
            XCTAssertTrue(UnsafeRawBufferPointer(rebasing: bytes[0..<0]).equals(""))
        }
    }

    func testANameHoldingAByteIsFoundAtEveryPositionAndLength() {
        for length in 1...20 {
            for position in 0..<length {
                var name = Array(repeating: UInt8(ascii: "a"), count: length)
                name[position] = UInt8(ascii: "_")
                var fields: HeaderFields = ["host": "h", "x-a": "_"]
                fields.append(name: String(decoding: name, as: UTF8.self), value: "v")
                fields.append(name: "y_", value: "v")
                XCTAssertEqual(fields.firstIndex(whereNameContains: UInt8(ascii: "_")), 2, "length \(length), position \(position)")
            }
            let without: HeaderFields = [String(repeating: "b", count: length): "_", "x-y": "z"]
            XCTAssertNil(without.firstIndex(whereNameContains: UInt8(ascii: "_")), "length \(length)")
        }
        XCTAssertNil(HeaderFields().firstIndex(whereNameContains: UInt8(ascii: "_")))
        // A field left out keeps its bytes in the storage: its name is not found.
        var kept: HeaderFields = ["x_left": "1", "host": "h"]
        kept.keepFields { $0.hasPrefix("host") }
        XCTAssertNil(kept.firstIndex(whereNameContains: UInt8(ascii: "_")))
    }

    func testTheFirstValueIsReadInPlace() {
        let fields: HeaderFields = ["content-type": "application/grpc-web+proto", "grpc-status": "14", "grpc-status": "0"]
        XCTAssertEqual(fields.withFirstValue(of: "grpc-status") { Array($0) }, Array("14".utf8))
        XCTAssertNil(fields.withFirstValue(of: "grpc-message") { Array($0) })
        XCTAssertEqual(GRPCStatusCode(trailers: fields), .unavailable)
        XCTAssertEqual(fields.withValue(at: 2) { Array($0) }, Array("0".utf8))
        XCTAssertTrue(fields.firstValue(of: "content-type", hasPrefix: "application/grpc-web"))
        XCTAssertFalse(fields.firstValue(of: "content-type", is: "application/grpc-web"))
        let empty: HeaderFields = ["x-empty": ""]
        XCTAssertTrue(empty.firstValue(of: "x-empty", is: ""))
    }

    func testFieldsLeftOutInPlaceMatchAFreshBlockAndLeaveSharersAlone() {
        for count in [0, 1, 5, 64, 65, 100] {
            var block = HeaderFields()
            for index in 0..<count { block.append(name: "x-\(index)", value: "\(index)") }
            let keep: (String) -> Bool = { name in name.hasSuffix("0") || name.hasSuffix("1") }
            var expected = HeaderFields()
            for index in 0..<count where keep("x-\(index)") { expected.append(name: "x-\(index)", value: "\(index)") }
            let shared = block
            block.keepFields { keep(String(decoding: $0, as: UTF8.self)) }
            XCTAssertEqual(block, expected, "\(count) fields")
            XCTAssertEqual(shared.count, count, "a block sharing the list keeps its \(count) fields")
            // The first field goes: every later one moves down by one.
            var firstGoes = block
            firstGoes.keepFields { !$0.elementsEqual("x-0".utf8) }
            XCTAssertEqual(Array(firstGoes), Array(Array(block).dropFirst()), "\(count) fields")
        }
        var all: HeaderFields = ["a": "1", "b": "2"]
        let sharer = all
        all.keepFields { _ in true }
        XCTAssertEqual(all, ["a": "1", "b": "2"])
        all.keepFields { _ in false }
        XCTAssertTrue(all.isEmpty)
        XCTAssertEqual(sharer.count, 2)
        var lastGoes: HeaderFields = ["a": "1", "b": "2", "c": "3"]
        lastGoes.keepFields { !$0.hasPrefix("c") }
        XCTAssertEqual(lastGoes, ["a": "1", "b": "2"])
    }

    func testPseudoFieldsAreLeftOut() {
        let block: HeaderFields = [":method": "POST", "content-type": "application/grpc", ":path": "/a.B/C", "x-a": ":b"]
        XCTAssertEqual(block.withoutPseudoFields, ["content-type": "application/grpc", "x-a": ":b"])
        XCTAssertTrue(HeaderFields().withoutPseudoFields.isEmpty)
        var inPlace = block
        inPlace.removePseudoFields()
        XCTAssertEqual(inPlace, block.withoutPseudoFields)
    }

    func testANameStartsWithAPrefixOnlyWithinItself() {
        let fields: HeaderFields = [":path": "/x", "grpc-timeout": "1S", "grpc": "connect-x"]
        XCTAssertTrue(fields.name(at: 0, hasPrefix: ":"))
        XCTAssertTrue(fields.name(at: 1, hasPrefix: "grpc-"))
        XCTAssertFalse(fields.name(at: 2, hasPrefix: "grpc-"), "the value's bytes are not the name's")
        XCTAssertFalse(fields.name(at: 2, hasPrefix: "connect-"))
        XCTAssertTrue(fields.name(at: 2, hasPrefix: ""))
    }

    func testFieldsFoundInACopiedSectionReadAsAppendedOnes() {
        let section = Array("Host: a\r\nContent-Type:  application/grpc-web \r\nX-Empty:\r\n\r\n".utf8)
        var block = section.withUnsafeBytes { HeaderFields(copying: $0, reservingFields: 4) }
        block.appendField(name: 0..<4, value: 6..<7)
        block.appendField(name: 9..<21, value: 24..<44)
        block.appendField(name: 47..<54, value: 55..<55)
        let expected: HeaderFields = ["host": "a", "content-type": "application/grpc-web", "x-empty": ""]
        XCTAssertEqual(block, expected)
        XCTAssertEqual(block.firstValueBytes("content-type").map { String(decoding: $0, as: UTF8.self) }, "application/grpc-web")
        XCTAssertEqual(block[1].name, "content-type")
        XCTAssertEqual(block.withName(at: 2) { $0.count }, 7)
        // Copied onward field by field or whole, the bytes between fields stay behind.
        var onward: HeaderFields = ["x-first": "1"]
        onward.append(block, at: 1)
        XCTAssertEqual(onward, ["x-first": "1", "content-type": "application/grpc-web"])
        var whole: HeaderFields = ["x-first": "1"]
        whole.append(contentsOf: block)
        XCTAssertEqual(Array(whole), [HeaderField(name: "x-first", value: "1")] + Array(expected))
        XCTAssertEqual(block.withoutPseudoFields, expected)
    }

    /// Compared a word at a time, with overlapping last words: runs of every length up to 40
    /// are equal to themselves and unequal wherever one byte differs, at any offset from an
    /// aligned start.
    func testMemoryEqualAtEveryLengthAndEveryDifferingByte() {
        let base = (0..<48).map { UInt8(truncatingIfNeeded: 0x61 + $0 % 26) }
        for shift in 0..<3 {
            for count in 0...40 {
                var other = Array(base[shift..<(shift + count)])
                base.withUnsafeBufferPointer { left in
                    other.withUnsafeBufferPointer { right in
                        XCTAssertTrue(memoryEqual(left.baseAddress! + shift, right.baseAddress!, count), "length \(count)")
                    }
                }
                for position in 0..<count {
                    other[position] ^= 0x20
                    base.withUnsafeBufferPointer { left in
                        other.withUnsafeBufferPointer { right in
                            XCTAssertFalse(
                                memoryEqual(left.baseAddress! + shift, right.baseAddress!, count), "length \(count), byte \(position)")
                        }
                    }
                    other[position] ^= 0x20
                }
            }
        }
    }
}
