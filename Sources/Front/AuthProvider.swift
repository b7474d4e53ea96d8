// A configured JWT issuer made ready: its keys read from their file once per config generation
// and shared by every worker, with what a verified token changes in the call (forwarded claims,
// the Authorization header dropped or kept).
import Auth
import Config
import Loop

final class AuthProvider: Sendable {
    let verifier: JWTProvider
    let forwardClaims: [(claim: String, header: String)]
    let forwardToken: Bool

    /// HS256 secrets shorter than this are refused (RFC 7518 §3.2: at least the hash's size).
    static let minimumSecretBytes = 32

    init(_ config: JWTProviderConfig, index: Int) throws(GatewayResourceError) {
        let path = "auth.jwt[\(index)]"
        let keys: [JSONWebKey]
        if let file = config.jwksFile {
            guard let bytes = FileReader.contents(of: file) else {
                throw GatewayResourceError(description: "\(path).jwks_file: cannot read '\(file)': \(FileReader.lastError)")
            }
            let set: (keys: [JSONWebKey], refused: [String])
            do { set = try JSONWebKey.set(parsing: bytes) } catch {
                throw GatewayResourceError(description: "\(path).jwks_file: \(error)")
            }
            guard !set.keys.isEmpty else {
                let refused = set.refused.isEmpty ? "" : " (\(set.refused.joined(separator: "; ")))"
                throw GatewayResourceError(description: "\(path).jwks_file: '\(file)' has no key Ferry verifies with\(refused)")
            }
            keys = set.keys
        } else {
            let file = config.secretFile ?? ""
            guard let secret = FileReader.contents(of: file) else {
                throw GatewayResourceError(description: "\(path).secret_file: cannot read '\(file)': \(FileReader.lastError)")
            }
            guard secret.count >= Self.minimumSecretBytes else {
                throw GatewayResourceError(
                    description: "\(path).secret_file: an HS256 secret needs \(Self.minimumSecretBytes) bytes or more")
            }
            keys = [JSONWebKey(secret: secret)]
        }
        verifier = JWTProvider(
            name: config.name, issuer: config.issuer, audiences: config.audiences,
            clockSkewSeconds: Double(config.clockSkewNanoseconds) / 1e9, keys: keys)
        forwardClaims = config.forwardClaims
        forwardToken = config.forwardToken
    }
}
