// One HTTP/1.1 GET with libevent's evhttp client, over TLS (bufferevent_openssl, with the SSL
// object set up as every Ferry client connection is: SNI and the verified name) or cleartext.
// For fetches that are not calls (an issuer's JWK set), so they need none of the HTTP/2 pool.
// The response is bounded (evhttp's max body size) and so is the time (evhttp's timeout).
import CLibevent
import COpenSSL

/// A response: its status and body.
public struct HTTPFetchResponse: Sendable {
    public let status: Int
    public let body: [UInt8]
}

public struct HTTPFetchError: Error, CustomStringConvertible {
    public let description: String
}

public enum HTTPFetch {
    /// Where a GET goes: the address to connect to (a name is resolved by libevent on the
    /// loop's thread), the `Host` header and path, and TLS when the URL is `https`.
    public struct Target {
        public let host: String
        public let port: Int
        public let authority: String
        public let path: String
        public let tls: TLSClientSetup?

        public init(host: String, port: Int, authority: String, path: String, tls: TLSClientSetup?) {
            self.host = host
            self.port = port
            self.authority = authority
            self.path = path
            self.tls = tls
        }
    }

    /// Starts a GET of `target` on `loop`; `completion` runs once on the loop's thread.
    public static func get(
        _ target: Target, on loop: EventLoop, timeoutSeconds: Int32, maxBodyBytes: Int,
        completion: @escaping (Result<HTTPFetchResponse, HTTPFetchError>) -> Void
    ) {
        let fetch = Fetch(completion: completion)
        let bufferevent: OpaquePointer?
        if let tls = target.tls {
            guard let ssl = SSL_new(tls.context.context) else {
                return completion(.failure(HTTPFetchError(description: "SSL_new: \(takeOpenSSLErrors())")))
            }
            TLSSession.setUpClient(ssl, tls)
            fetch.ssl = ssl
            // The bufferevent owns the SSL object from here (BEV_OPT_CLOSE_ON_FREE frees it).
            bufferevent = bufferevent_openssl_socket_new(
                loop.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue | BEV_OPT_DEFER_CALLBACKS.rawValue))
            if let bufferevent { bufferevent_openssl_set_allow_dirty_shutdown(bufferevent, 1) } else { SSL_free(ssl) }
        } else {
            bufferevent = bufferevent_socket_new(loop.base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
        }
        guard let bufferevent,
            let connection = evhttp_connection_base_bufferevent_new(loop.base, nil, bufferevent, target.host, UInt16(target.port))
        else {
            return completion(.failure(HTTPFetchError(description: "cannot set up a connection to \(target.host)")))
        }
        evhttp_connection_set_timeout(connection, timeoutSeconds)
        evhttp_connection_set_max_body_size(connection, maxBodyBytes)
        let context = Unmanaged.passRetained(fetch).toOpaque()
        guard
            let request = evhttp_request_new(
                { request, context in
                    Unmanaged<Fetch>.fromOpaque(context!).takeRetainedValue().finish(request)
                }, context)
        else {
            Unmanaged<Fetch>.fromOpaque(context).release()
            evhttp_connection_free(connection)
            return completion(.failure(HTTPFetchError(description: "evhttp_request_new failed")))
        }
        evhttp_request_set_error_cb(request) { error, context in
            Unmanaged<Fetch>.fromOpaque(context!).takeUnretainedValue().error = error
        }
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Host", target.authority)
        evhttp_add_header(headers, "Accept", "application/json")
        evhttp_add_header(headers, "Connection", "close")
        // evhttp frees the request after its callback; when it refuses the request, it has freed
        // it without calling back.
        guard evhttp_make_request(connection, request, EVHTTP_REQ_GET, target.path) == 0 else {
            evhttp_connection_free(connection)
            Unmanaged<Fetch>.fromOpaque(context).release()
            return completion(.failure(HTTPFetchError(description: "evhttp refused the request for '\(target.path)'")))
        }
        evhttp_connection_free_on_completion(connection)
    }

    /// One GET's state between its start and its callback.
    private final class Fetch {
        let completion: (Result<HTTPFetchResponse, HTTPFetchError>) -> Void
        var error: evhttp_request_error?
        /// Borrowed from the bufferevent, for the certificate verdict; valid until the callback returns.
        var ssl: OpaquePointer?

        init(completion: @escaping (Result<HTTPFetchResponse, HTTPFetchError>) -> Void) {
            self.completion = completion
        }

        func finish(_ request: OpaquePointer?) {
            guard let request, evhttp_request_get_response_code(request) != 0 else {
                return completion(.failure(HTTPFetchError(description: failure())))
            }
            let input = evhttp_request_get_input_buffer(request)
            let length = evbuffer_get_length(input)
            var body = [UInt8](repeating: 0, count: length)
            if length > 0 { _ = body.withUnsafeMutableBytes { evbuffer_remove(input, $0.baseAddress, length) } }
            completion(.success(HTTPFetchResponse(status: Int(evhttp_request_get_response_code(request)), body: body)))
        }

        /// Why there is no response: the certificate verdict first, then evhttp's reason.
        private func failure() -> String {
            if let ssl {
                let verdict = SSL_get_verify_result(ssl)
                if verdict != X509_V_OK {
                    return "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verdict)))"
                }
            }
            switch error {
            case EVREQ_HTTP_TIMEOUT?: return "timed out"
            case EVREQ_HTTP_EOF?: return "the connection closed before a response"
            case EVREQ_HTTP_INVALID_HEADER?: return "invalid response head, or a body above the limit"
            case EVREQ_HTTP_DATA_TOO_LONG?: return "the response is above the size limit"
            default:
                let openSSL = takeOpenSSLErrors()
                return openSSL == "unknown error" ? "cannot connect, or the connection failed" : "TLS: \(openSSL)"
            }
        }
    }
}
