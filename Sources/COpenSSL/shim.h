// OpenSSL 3 for Ferry's TLS (Loop/TLS.swift) and JWT signatures (Auth/VerificationKey.swift), with
// functions for the macros Swift cannot call.
#ifndef FERRY_COPENSSL_SHIM_H
#define FERRY_COPENSSL_SHIM_H
#include <sys/types.h>
#include <stdint.h>
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>
#include <openssl/crypto.h>

static const uint64_t ferry_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const unsigned long ferry_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;
static const int ferry_GEN_URI = GEN_URI;
static const int ferry_GEN_DNS = GEN_DNS;

static inline long ferry_SSL_CTX_set_mode(SSL_CTX *context, long mode) {
    return SSL_CTX_set_mode(context, mode);
}

static inline int ferry_SSL_CTX_set_min_proto_version(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline int ferry_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline long ferry_BIO_get_mem_data(BIO *bio, char **data) {
    return BIO_get_mem_data(bio, data);
}

/// The certificate's subject alternative names (RFC 5280 §4.2.1.6); NULL when it has none.
static inline GENERAL_NAMES *ferry_X509_subject_alt_names(X509 *certificate) {
    return (GENERAL_NAMES *)X509_get_ext_d2i(certificate, NID_subject_alt_name, NULL, NULL);
}

static inline int ferry_GENERAL_NAMES_count(GENERAL_NAMES *names) {
    return sk_GENERAL_NAME_num(names);
}

/// The text of name `index` when it is a URI, DNS name or email (IA5 strings), with its kind
/// (GEN_URI, GEN_DNS, GEN_EMAIL); NULL for other kinds.
static inline const unsigned char *ferry_GENERAL_NAMES_text(GENERAL_NAMES *names, int index, int *kind, int *length) {
    const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, index);
    *kind = name->type;
    if (name->type != GEN_URI && name->type != GEN_DNS && name->type != GEN_EMAIL) return NULL;
    *length = ASN1_STRING_length(name->d.ia5);
    return ASN1_STRING_get0_data(name->d.ia5);
}

static inline void ferry_GENERAL_NAMES_free(GENERAL_NAMES *names) {
    GENERAL_NAMES_free(names);
}
#endif
