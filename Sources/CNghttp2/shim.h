// nghttp2's public API, for the HTTP/2 client (Upstream) and server (GRPCServer).
#ifndef FERRY_CNGHTTP2_SHIM_H
#define FERRY_CNGHTTP2_SHIM_H
#include <stdint.h>
#include <sys/types.h>
#include <nghttp2/nghttp2.h>
#endif
