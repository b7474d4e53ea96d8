// Memory a worker's downstream connections need only while a request is in progress: the
// request's record, the input buffer of an HTTP/1.1 request still arriving, and the bytes of a
// response head or chunk header being written. The worker owns one and its connections borrow
// from it, so that an idle keep-alive connection holds none of it (issue 19: ≤ 1 KiB per idle
// connection), and a busy one allocates nothing new for it once the worker has spares.
import FerryCore

final class ConnectionScratch {
    /// Spares beyond this many are freed: the pool stays as large as the busiest moment needs,
    /// bounded.
    private static let maxSpares = 256
    /// An input buffer that grew past this (a large request) is freed rather than kept.
    private static let maxSpareBufferCapacity = 16 * 1024

    private var spareRecords: [AccessRecord] = []
    private var spareBuffers: [[UInt8]] = []
    /// Bytes being written (a response head, a chunk header): filled and handed to the socket's
    /// output, which copies them, before anything else runs on the worker's loop.
    private var writeBytes = WriteBuffer()
    /// The storage of a response head's fields, between one head written and the next built.
    private var spareHeaders = HeaderFields()
    /// The target of the last request a connection of this worker received: the next request
    /// for the same one shares its String (`HTTP1RequestParser.next(recentTarget:)`).
    var recentTarget = ""

    /// A record for a request that starts (`AccessRecord.begin` sets what the request needs;
    /// `AccessRecord.end` cleared the rest before the record was given back).
    func takeRecord() -> AccessRecord {
        spareRecords.popLast() ?? AccessRecord()
    }

    /// A record whose request ended (`AccessRecord.end` cleared its strings).
    func giveBack(_ record: consuming AccessRecord) {
        if spareRecords.count < Self.maxSpares { spareRecords.append(record) }
    }

    /// An empty input buffer, with the capacity of one used before when there is one.
    func takeBuffer() -> [UInt8] {
        spareBuffers.popLast() ?? []
    }

    /// An input buffer its connection emptied (count 0, capacity kept).
    func giveBack(_ buffer: consuming [UInt8]) {
        if spareBuffers.count < Self.maxSpares, buffer.capacity <= Self.maxSpareBufferCapacity {
            spareBuffers.append(buffer)
        }
    }

    /// Empty fields for a response head (with the storage of an earlier one when it came back).
    func takeHeaders() -> HeaderFields {
        var headers = HeaderFields()
        swap(&headers, &spareHeaders)
        return headers
    }

    /// The fields of a response head that was written: emptied, their storage kept.
    func giveBack(headers: consuming HeaderFields) {
        headers.removeAll()
        spareHeaders = headers
    }

    /// Runs `body` with the write buffer, emptied; `body` fills it and writes it out (the
    /// socket's output copies it), and keeps no reference to it.
    func withWriteBuffer(_ body: (inout WriteBuffer) -> Void) {
        writeBytes.removeAll()
        body(&writeBytes)
    }
}
