// A call its route refuses before it goes upstream (ExchangeStarter.admit): the status, and the
// fields that go with it in each protocol's answer.
import FerryCore

struct AdmissionRefusal: Error {
    let status: GRPCStatus
    /// Fields of an HTTP-level answer (REST, Connect): the Bearer challenge (RFC 6750 §3) or
    /// `retry-after`.
    let headers: HeaderFields
    /// Metadata of a gRPC answer (gRPC-Web, native gRPC): `retry-after`; a challenge is an HTTP
    /// matter that gRPC clients do not read.
    let metadata: HeaderFields
}
