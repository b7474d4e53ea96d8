// TLS with OpenSSL 3: the contexts (certificates, verification, ALPN) built once per config,
// and one session per connection, driven by BufferedConnection on its non-blocking socket.
// Settings follow Mozilla's "intermediate" profile: TLS 1.2 at least (1.3 preferred by
// OpenSSL itself), ECDHE with AEAD ciphers only for 1.2.
import COpenSSL

public struct TLSError: Error, CustomStringConvertible {
    public var reason: String

    public var description: String { reason }

    /// `what` failed, with OpenSSL's queued errors (emptied) as the reason.
    static func openSSL(_ what: String) -> TLSError {
        TLSError(reason: "\(what): \(takeOpenSSLErrors())")
    }
}

/// OpenSSL's error queue of this thread as text, emptied.
func takeOpenSSLErrors() -> String {
    var reasons: [String] = []
    while case let code = ERR_get_error(), code != 0 {
        var buffer = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(code, &buffer, buffer.count)
        // "error:0A000086:SSL routines::certificate verify failed" → what follows the last colon.
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        reasons.append(text.lastIndex(of: ":").map { String(text[text.index(after: $0)...]) } ?? text)
    }
    return reasons.isEmpty ? "unknown error" : reasons.joined(separator: "; ")
}

/// An SSL_CTX: shared by every connection of a listener or cluster, on every worker (OpenSSL
/// contexts are thread-safe once set up).
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer
    /// The ALPN protocol a client requires the server to choose; nil on servers.
    let requiredALPN: String?

    private static let intermediateCiphers = [
        "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
    ].joined(separator: ":")

    private init(method: OpaquePointer, requiredALPN: String?) throws(TLSError) {
        guard let context = SSL_CTX_new(method) else { throw TLSError.openSSL("SSL_CTX_new") }
        self.context = context
        self.requiredALPN = requiredALPN
        _ = ferry_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)
        SSL_CTX_set_cipher_list(context, TLSContext.intermediateCiphers)
        // A peer that closes without close_notify reads as end of stream, as with plain TCP.
        SSL_CTX_set_options(context, ferry_SSL_OP_IGNORE_UNEXPECTED_EOF)
        // Writes come from an evbuffer whose first chunk may move between retries; idle
        // connections give their buffers back (idle RSS).
        _ = ferry_SSL_CTX_set_mode(
            context, Int(SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS))
    }

    deinit {
        SSL_CTX_free(context)
    }

    /// A server context: the certificate chain and key (PEM), the ALPN protocols it accepts
    /// in its order of preference, and for mutual TLS the CAs that client certificates must
    /// chain to. Errors name the file that failed.
    public static func server(
        certificateFile: String, privateKeyFile: String, clientCAFile: String?,
        requireClientCertificate: Bool, alpn: [String]
    ) throws(TLSError) -> TLSContext {
        let tls = try TLSContext(method: TLS_server_method(), requiredALPN: nil)
        try tls.loadIdentity(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
        if let clientCAFile {
            guard SSL_CTX_load_verify_locations(tls.context, clientCAFile, nil) == 1 else {
                throw TLSError.openSSL("cannot load client CA file '\(clientCAFile)'")
            }
            if let names = SSL_load_client_CA_file(clientCAFile) { SSL_CTX_set_client_CA_list(tls.context, names) }
            let mode = SSL_VERIFY_PEER | (requireClientCertificate ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0)
            SSL_CTX_set_verify(tls.context, mode, nil)
        }
        tls.serverALPN = alpn.reduce(into: [UInt8]()) { wire, name in
            wire.append(UInt8(name.utf8.count))
            wire.append(contentsOf: name.utf8)
        }
        SSL_CTX_set_alpn_select_cb(
            tls.context,
            { _, out, outLength, offered, offeredLength, context in
                let tls = Unmanaged<TLSContext>.fromOpaque(context!).takeUnretainedValue()
                // RFC 7301 §3.2: no protocol in common is a fatal no_application_protocol alert.
                return tls.serverALPN.withUnsafeBufferPointer { preferred in
                    let chosen = UnsafeMutableRawPointer(out!).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self)
                    let result = SSL_select_next_proto(
                        chosen, outLength, preferred.baseAddress,
                        UInt32(preferred.count), offered, offeredLength)
                    return result == OPENSSL_NPN_NEGOTIATED ? SSL_TLSEXT_ERR_OK : SSL_TLSEXT_ERR_ALERT_FATAL
                }
            }, Unmanaged.passUnretained(tls).toOpaque())
        return tls
    }

    /// A client context: CAs to verify servers with (nil: the system's store), an optional
    /// client certificate, and the one ALPN protocol the server must choose.
    public static func client(
        caFile: String?, certificateFile: String?, privateKeyFile: String?,
        alpn: String
    ) throws(TLSError) -> TLSContext {
        let tls = try TLSContext(method: TLS_client_method(), requiredALPN: alpn)
        if let caFile {
            guard SSL_CTX_load_verify_locations(tls.context, caFile, nil) == 1 else {
                throw TLSError.openSSL("cannot load CA file '\(caFile)'")
            }
        } else {
            SSL_CTX_set_default_verify_paths(tls.context)
        }
        if let certificateFile, let privateKeyFile {
            try tls.loadIdentity(certificateFile: certificateFile, privateKeyFile: privateKeyFile)
        }
        SSL_CTX_set_verify(tls.context, SSL_VERIFY_PEER, nil)
        let wire = [UInt8(alpn.utf8.count)] + Array(alpn.utf8)
        // Returns 0 on success, unlike most of OpenSSL.
        guard SSL_CTX_set_alpn_protos(tls.context, wire, UInt32(wire.count)) == 0 else { throw TLSError.openSSL("ALPN") }
        return tls
    }

    /// The server's ALPN list in wire form (length-prefixed names).
    private var serverALPN: [UInt8] = []

    private func loadIdentity(certificateFile: String, privateKeyFile: String) throws(TLSError) {
        guard SSL_CTX_use_certificate_chain_file(context, certificateFile) == 1 else {
            throw TLSError.openSSL("cannot load certificate file '\(certificateFile)'")
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKeyFile, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError.openSSL("cannot load private key file '\(privateKeyFile)'")
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.openSSL("private key file '\(privateKeyFile)' does not match certificate file '\(certificateFile)'")
        }
    }
}

/// What a client connection verifies and sends: the server name for SNI and the name or
/// address the certificate must carry.
public struct TLSClientSetup: Sendable {
    public let context: TLSContext
    /// Sent as SNI (a DNS name; never an IP address, RFC 6066 §3).
    public let serverName: String?
    /// Checked against the certificate's names; nil: the chain is verified, the name is not.
    public let verifiedName: String?

    public init(context: TLSContext, serverName: String?, verifiedName: String?) {
        self.context = context
        self.serverName = serverName
        self.verifiedName = verifiedName
    }
}

/// One connection's SSL object.
final class TLSSession {
    let ssl: OpaquePointer
    let isClient: Bool
    private let requiredALPN: String?

    init(context: TLSContext, fd: Int32, client: TLSClientSetup?) throws(TLSError) {
        guard let ssl = SSL_new(context.context) else { throw TLSError.openSSL("SSL_new") }
        self.ssl = ssl
        isClient = client != nil
        requiredALPN = context.requiredALPN
        SSL_set_fd(ssl, fd)
        if let client {
            SSL_set_connect_state(ssl)
            TLSSession.setUpClient(ssl, client)
        } else {
            SSL_set_accept_state(ssl)
        }
    }

    /// SNI (never an IP address, RFC 6066 §3) and the name the certificate must carry.
    static func setUpClient(_ ssl: OpaquePointer, _ client: TLSClientSetup) {
        if let name = client.serverName, !isIPAddress(name) { _ = ferry_SSL_set_tlsext_host_name(ssl, name) }
        guard let name = client.verifiedName else { return }
        SSL_set_hostflags(ssl, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
        if isIPAddress(name) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name)
        } else {
            SSL_set1_host(ssl, name)
        }
    }

    deinit {
        SSL_free(ssl)
    }

    static func isIPAddress(_ text: String) -> Bool {
        let octets = text.split(separator: ".")
        return text.contains(":") || octets.count == 4 && octets.allSatisfy { UInt8($0) != nil }
    }

    /// After the handshake: why the session is unusable, or nil (the server must have chosen
    /// the ALPN protocol the client requires).
    var alpnMismatch: String? {
        guard let requiredALPN else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        let chosen = data.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
        guard chosen != requiredALPN else { return nil }
        return "the server did not choose ALPN '\(requiredALPN)' (it chose \(chosen.map { "'\($0)'" } ?? "none"))"
    }

    /// Why the handshake failed: the certificate verdict when there is one, else OpenSSL's errors.
    func handshakeFailure() -> String {
        let verify = SSL_get_verify_result(ssl)
        let errors = takeOpenSSLErrors()
        if verify != X509_V_OK {
            return "certificate verify failed: \(String(cString: X509_verify_cert_error_string(verify)))"
        }
        return errors
    }

    /// The peer certificate's identity, when it sent one: its subject in RFC 2253 form and its
    /// URI, DNS and email subject alternative names.
    var peerIdentity: CertificateIdentity? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return nil }
        defer { X509_free(certificate) }
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        X509_NAME_print_ex(bio, X509_get_subject_name(certificate), 0, ferry_XN_FLAG_RFC2253)
        var data: UnsafeMutablePointer<CChar>?
        let length = ferry_BIO_get_mem_data(bio, &data)
        let subject = data.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: max(0, length)), as: UTF8.self) } ?? ""
        var identity = CertificateIdentity(subject: subject)
        if let sans = ferry_X509_subject_alt_names(certificate) {
            defer { ferry_GENERAL_NAMES_free(sans) }
            for index in 0..<ferry_GENERAL_NAMES_count(sans) {
                var kind: Int32 = 0
                var count: Int32 = 0
                guard let text = ferry_GENERAL_NAMES_text(sans, index, &kind, &count) else { continue }
                let name = String(decoding: UnsafeBufferPointer(start: text, count: Int(count)), as: UTF8.self)
                switch kind {
                case ferry_GEN_URI: identity.uris.append(name)
                case ferry_GEN_DNS: identity.dnsNames.append(name)
                default: identity.emails.append(name)
                }
            }
        }
        return identity
    }
}

/// Who a verified certificate names: what mutual-TLS routes are matched against and what the
/// backend is told in `x-forwarded-client-cert`.
public struct CertificateIdentity: Sendable, Equatable {
    /// RFC 2253 form, e.g. `CN=client,O=Example`.
    public let subject: String
    /// Subject alternative names (RFC 5280 §4.2.1.6) by kind: URIs carry SPIFFE IDs.
    public var uris: [String] = []
    public var dnsNames: [String] = []
    public var emails: [String] = []

    public init(subject: String, uris: [String] = [], dnsNames: [String] = [], emails: [String] = []) {
        self.subject = subject
        self.uris = uris
        self.dnsNames = dnsNames
        self.emails = emails
    }

    public var alternativeNames: [String] { uris + dnsNames + emails }
}
