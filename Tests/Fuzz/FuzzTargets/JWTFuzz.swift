// Bearer tokens and JWK sets as an attacker or a broken identity provider sends them: parsed and
// verified (against an HMAC secret, the cheapest key) without a crash, and a token that parses
// signs exactly the text before its last '.'.
import Auth

extension FuzzHarness {
    func fuzzJWT(_ data: UnsafeRawBufferPointer) {
        guard let mode = data.first else { return }
        let body = Array(data.dropFirst())
        if mode & 1 != 0 {
            do {
                let set = try JSONWebKey.set(parsing: body)
                agree(set.keys.count + set.refused.count <= body.count, "more keys than bytes in a JWK set")
            } catch {
                _ = error.description
            }
            return
        }
        let token = Substring(decoding: body, as: UTF8.self)
        if let jwt = try? JWT(parsing: token) {
            let text = Array(token.utf8)
            let lastDot = text.lastIndex(of: UInt8(ascii: ".")) ?? 0
            agree(jwt.signingInput == Array(text[..<lastDot]), "the signing input is not the text before the signature")
        }
        let provider = JWTProvider(
            name: "fuzz", issuer: "issuer", audiences: ["ferry"], clockSkewSeconds: 60,
            keys: [JSONWebKey(secret: Array("fuzzing-secret".utf8))])
        do {
            _ = try provider.verify(token, now: 1_800_000_000)
        } catch {
            _ = error.description
        }
    }
}
