// zlib (Debian's zlib1g-dev): gzip for Connect's compressed messages.
#ifndef FERRY_CZLIB_SHIM_H
#define FERRY_CZLIB_SHIM_H
#include <zlib.h>
#endif
