// Asynchronous name resolution on a loop with libevent's evdns: A and AAAA queries for a name,
// answered with every address and the smallest TTL, never blocking the loop. The evdns
// callbacks in this file are the only unsafe code of it.
import CLibevent
import Glibc

public struct DNSError: Error, Equatable, CustomStringConvertible {
    public var description: String
}

/// The addresses a name resolved to, with the time they may be kept.
public struct DNSAnswer: Sendable, Equatable {
    /// IP literals, IPv4 first.
    public var addresses: [String]
    public var ttlSeconds: UInt32
}

public final class DNSResolver {
    private let base: OpaquePointer
    /// Keeps the event_base alive as long as the evdns_base uses it.
    private let loop: EventLoop
    /// Lookups whose answers have not all come: held here, not by evdns, so that the ones a
    /// freed resolver drops go with it (a retain handed to evdns leaked on every reload that
    /// came during a lookup, found by AddressSanitizer).
    private var lookups: [ObjectIdentifier: Lookup] = [:]

    /// `nameserver`: `IP:port` of the one server to ask (a test's DNS server on loopback);
    /// nil reads /etc/resolv.conf. /etc/hosts is consulted either way.
    public init(loop: EventLoop, nameserver: String?) throws(DNSError) {
        self.loop = loop
        guard let base = evdns_base_new(loop.base, nameserver == nil ? EVDNS_BASE_INITIALIZE_NAMESERVERS : 0) else {
            throw DNSError(description: "cannot create the DNS resolver")
        }
        self.base = base
        if let nameserver, evdns_base_nameserver_ip_add(base, nameserver) != 0 {
            evdns_base_free(base, 0)
            throw DNSError(description: "invalid DNS server address '\(nameserver)'")
        }
        evdns_base_load_hosts(base, nil)
        // A quicker answer than the defaults (5 s, 3 tries): a failed refresh keeps the old set.
        evdns_base_set_option(base, "timeout:", "2")
        evdns_base_set_option(base, "attempts:", "2")
    }

    deinit {
        // Without failing requests: their callbacks would reach an owner that is going away.
        evdns_base_free(base, 0)
    }

    /// Resolves `host` (A and AAAA); `completion` runs on the loop with the union of both
    /// answers, or the error when neither gave an address.
    public func resolve(_ host: String, completion: @escaping (Result<DNSAnswer, DNSError>) -> Void) {
        let lookup = Lookup(resolver: self, completion: completion)
        lookups[ObjectIdentifier(lookup)] = lookup
        let context = Unmanaged.passUnretained(lookup).toOpaque()
        for resolve in [evdns_base_resolve_ipv4, evdns_base_resolve_ipv6] {
            if resolve(
                base, host, 0,
                { result, type, count, ttl, addresses, context in
                    Unmanaged<Lookup>.fromOpaque(context!).takeUnretainedValue()
                        .answered(result: result, type: type, count: count, ttl: ttl, addresses: addresses)
                }, context) == nil
            {
                // evdns refused the request (no nameserver): count it as an answer.
                lookup.answered(result: DNS_ERR_UNKNOWN, type: 0, count: 0, ttl: 0, addresses: nil)
            }
        }
    }

    /// One name's two queries, merged.
    private final class Lookup {
        /// The resolver owns its lookups.
        unowned let resolver: DNSResolver
        let completion: (Result<DNSAnswer, DNSError>) -> Void
        var pending = 2
        var ipv4: [String] = []
        var ipv6: [String] = []
        var ttl = UInt32.max
        var errors: [String] = []

        init(resolver: DNSResolver, completion: @escaping (Result<DNSAnswer, DNSError>) -> Void) {
            self.resolver = resolver
            self.completion = completion
        }

        func answered(result: Int32, type: CChar, count: Int32, ttl: Int32, addresses: UnsafeMutableRawPointer?) {
            pending -= 1
            if result == DNS_ERR_NONE, let addresses, count > 0 {
                self.ttl = min(self.ttl, UInt32(max(0, ttl)))
                for index in 0..<Int(count) {
                    if Int32(type) == DNS_IPv4_A {
                        ipv4.append(ipText(AF_INET, addresses + index * 4))
                    } else if Int32(type) == DNS_IPv6_AAAA {
                        ipv6.append(ipText(AF_INET6, addresses + index * 16))
                    }
                }
            } else if result != DNS_ERR_NONE {
                errors.append(evdns_err_to_string(result).map { String(validatingCString: $0) ?? "" } ?? "error \(result)")
            }
            guard pending == 0 else { return }
            let finished = resolver.lookups.removeValue(forKey: ObjectIdentifier(self))
            defer { withExtendedLifetime(finished) {} }
            let all = ipv4 + ipv6
            if all.isEmpty {
                completion(.failure(DNSError(description: errors.isEmpty ? "no address" : errors.joined(separator: ", "))))
            } else {
                completion(.success(DNSAnswer(addresses: all, ttlSeconds: self.ttl)))
            }
        }
    }
}

/// An address in binary form (in_addr or in6_addr) as text.
private func ipText(_ family: Int32, _ address: UnsafeRawPointer) -> String {
    var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
    inet_ntop(family, address, &text, socklen_t(text.count))
    return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
