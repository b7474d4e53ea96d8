// The OpenAPI document of a REST configuration, the same for `GET /openapi.json` on the admin
// listener and `ferry openapi`.
import OpenAPI
import Transcode

extension RESTTranscoding {
    public var openAPIDocument: String {
        let services = catalog.serviceNames.sorted()
        return OpenAPIDocument.json(
            for: catalog, title: "REST API of \(services.joined(separator: ", ")) (through Ferry)", version: "1")
    }
}
