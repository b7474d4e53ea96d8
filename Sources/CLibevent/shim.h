// The libevent headers Ferry uses. The glibc headers come first on purpose:
// event2/event-config.h defines _GNU_SOURCE, and a module built with fd_set seen
// under two different feature sets fails clean builds ("'fds_bits' ... not present").
#ifndef FERRY_CLIBEVENT_SHIM_H
#define FERRY_CLIBEVENT_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <errno.h>
#include <string.h>
#include <stdint.h>
#include <signal.h>
#include <sys/eventfd.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#endif
