// IPv6 raw sockets for Node: socket/setsockopt/recvmsg/sendmsg with IPV6_PKTINFO and
// IPV6_HOPLIMIT control messages, plus libuv readiness polling on the main loop.
// Design: /work/shared/docs/design.md "Platform choices"; protocol-reference.md §9.1, §9.2, §12.4.
//
// Every function takes the socket's fd as a plain number; the TypeScript wrapper (src/index.ts)
// owns the fd's life cycle. Errors are thrown as JS Errors with `code` ('EPERM', 'ENODEV', ...),
// `errno` (negative, as in Node's own system errors) and `syscall`.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE  // struct ucred (SO_PEERCRED)
#endif
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/timex.h>
#include <unistd.h>

#define MSG_MAX 512

typedef struct inst_s inst_t;

typedef struct watch_s {
  uv_poll_t poll;  // first member: the uv handle pointer is the watch pointer
  napi_env env;
  napi_ref cb;
  napi_async_context actx;
  int fd;
  struct watch_s *next;
} watch_t;

struct inst_s {
  watch_t *watches;
};

// ---------------------------------------------------------------------------------------------
// errors

static const char *errno_code(int err) {
  const char *name = strerrorname_np(err);
  return name != NULL ? name : uv_err_name(-err);
}

static napi_value make_error(napi_env env, int err, const char *syscall, const char *fmt, ...) {
  char text[MSG_MAX];
  char msg[MSG_MAX + 64];
  const char *code = errno_code(err);
  if (fmt != NULL) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s (%s)", text, code);
  } else {
    snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, strerror(err), code);
  }
  napi_value jcode, jmsg, jerr, jsys, jerrno;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_error(env, jcode, jmsg, &jerr);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys);
  napi_create_int32(env, -err, &jerrno);
  napi_set_named_property(env, jerr, "syscall", jsys);
  napi_set_named_property(env, jerr, "errno", jerrno);
  return jerr;
}

#define THROW_ERRNO(env, err, syscall, ...)                                  \
  do {                                                                       \
    napi_throw((env), make_error((env), (err), (syscall), __VA_ARGS__));     \
    return NULL;                                                             \
  } while (0)

#define THROW_TYPE(env, msg)                         \
  do {                                               \
    napi_throw_type_error((env), "ERR_INVALID_ARG_TYPE", (msg)); \
    return NULL;                                     \
  } while (0)

#define CHECK(env, call)                                                      \
  do {                                                                        \
    if ((call) != napi_ok) {                                                  \
      bool pending_ = false;                                                  \
      napi_is_exception_pending((env), &pending_);                            \
      if (!pending_) napi_throw_error((env), NULL, "rawsock: N-API call failed: " #call); \
      return NULL;                                                            \
    }                                                                         \
  } while (0)

// ---------------------------------------------------------------------------------------------
// argument helpers (each returns false with a pending exception)

static bool arg_int(napi_env env, napi_value v, const char *what, int64_t lo, int64_t hi, int *out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a number", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (d != (double)(int64_t)d || d < (double)lo || d > (double)hi) {
    char m[160];
    snprintf(m, sizeof m, "%s must be an integer in [%lld, %lld], got %g", what, (long long)lo,
             (long long)hi, d);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", m);
    return false;
  }
  *out = (int)d;
  return true;
}

static bool arg_fd(napi_env env, napi_value v, int *fd) {
  return arg_int(env, v, "fd", 0, INT32_MAX, fd);
}

static bool arg_str(napi_env env, napi_value v, const char *what, char *buf, size_t size) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    char m[128];
    snprintf(m, sizeof m, "%s must be a string", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len >= size) {
    napi_throw(env, make_error(env, EINVAL, "arg", "%s is too long (%zu bytes)", what, len));
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, size, &len);
  return true;
}

static bool arg_bytes(napi_env env, napi_value v, const char *what, void **data, size_t *len) {
  bool ok = false;
  napi_is_buffer(env, v, &ok);
  if (ok) {
    napi_get_buffer_info(env, v, data, len);
    return true;
  }
  napi_is_typedarray(env, v, &ok);
  if (ok) {
    napi_typedarray_type type;
    size_t n, off;
    napi_value ab;
    napi_get_typedarray_info(env, v, &type, &n, data, &ab, &off);
    if (type == napi_uint8_array || type == napi_int8_array || type == napi_uint8_clamped_array) {
      *len = n;
      return true;
    }
  }
  char m[128];
  snprintf(m, sizeof m, "%s must be a Buffer or Uint8Array", what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", m);
  return false;
}

// "2001:db8::1", "fe80::1%3" or "fe80::1%veth0"; *scope is 0 when there is no zone.
static bool parse_addr(napi_env env, napi_value v, const char *what, struct in6_addr *addr,
                       uint32_t *scope) {
  char s[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  if (!arg_str(env, v, what, s, sizeof s)) return false;
  *scope = 0;
  char *pct = strchr(s, '%');
  if (pct != NULL) {
    *pct = '\0';
    const char *zone = pct + 1;
    char *end = NULL;
    unsigned long n = strtoul(zone, &end, 10);
    if (*zone != '\0' && *end == '\0') {
      *scope = (uint32_t)n;
    } else {
      *scope = if_nametoindex(zone);
      if (*scope == 0) {
        napi_throw(env, make_error(env, ENODEV, "if_nametoindex", "no such interface: %s", zone));
        return false;
      }
    }
  }
  if (inet_pton(AF_INET6, s, addr) != 1) {
    napi_throw(env, make_error(env, EINVAL, "inet_pton", "invalid IPv6 address for %s: '%s'", what, s));
    return false;
  }
  return true;
}

static inst_t *get_inst(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return (inst_t *)p;
}

// ---------------------------------------------------------------------------------------------
// open / close / setsockopt

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int proto;
  if (argc < 1 || !arg_int(env, argv[0], "proto", 0, 255, &proto)) return NULL;

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES)
      THROW_ERRNO(env, e, "socket", "socket(AF_INET6, SOCK_RAW, %d): raw sockets need root or CAP_NET_RAW", proto);
    THROW_ERRNO(env, e, "socket", "socket(AF_INET6, SOCK_RAW, %d): %s", proto, strerror(e));
  }
  int on = 1;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) {
    int e = errno;
    close(fd);
    THROW_ERRNO(env, e, "setsockopt", NULL);
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

// openUdp(port, reuseAddr) -> fd: a UDP socket bound to [::]:port with IPV6_RECVPKTINFO and
// IPV6_RECVHOPLIMIT on. Node's dgram cannot tell which interface a datagram arrived on, and a
// DHCPv6 relay must know the access link of each client message (RFC 8415 §19.1.1); recv/send
// below work unchanged on it (send takes opts.port for the destination port).
static napi_value js_open_udp(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int port;
  if (argc < 1 || !arg_int(env, argv[0], "port", 0, 65535, &port)) return NULL;
  bool reuse = false;
  if (argc >= 2) napi_get_value_bool(env, argv[1], &reuse);

  int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
  if (fd < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "socket", "socket(AF_INET6, SOCK_DGRAM, UDP): %s", strerror(e));
  }
  int on = 1;
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0 ||
      (reuse && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0)) {
    int e = errno;
    close(fd);
    THROW_ERRNO(env, e, "setsockopt", NULL);
  }
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons((uint16_t)port);
  sa.sin6_addr = in6addr_any;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    if (e == EACCES) THROW_ERRNO(env, e, "bind", "bind([::]:%d): ports below 1024 need root or CAP_NET_BIND_SERVICE", port);
    THROW_ERRNO(env, e, "bind", "bind([::]:%d): %s", port, strerror(e));
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

// openPacket() -> fd: an AF_PACKET SOCK_DGRAM socket of protocol 0, which receives nothing: it
// only sends. The caller gives a whole network-layer packet and the link-layer destination; the
// kernel adds the frame header. For an IPv6 packet to a multicast group that must reach one
// station only (RFC 6085: a unicast frame may carry a multicast IPv6 destination), which a
// raw IPv6 socket cannot do: it always maps ff02::1 to 33:33:00:00:00:01.
static napi_value js_open_packet(napi_env env, napi_callback_info info) {
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    if (e == EPERM || e == EACCES)
      THROW_ERRNO(env, e, "socket", "socket(AF_PACKET, SOCK_DGRAM, 0): packet sockets need root or CAP_NET_RAW");
    THROW_ERRNO(env, e, "socket", "socket(AF_PACKET, SOCK_DGRAM, 0): %s", strerror(e));
  }
  napi_value r;
  napi_create_int32(env, fd, &r);
  return r;
}

// sendPacket(fd, data, ifindex, lladdr, ethertype) -> bytes sent: sendto(2) with a sockaddr_ll.
static napi_value js_send_packet(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) THROW_TYPE(env, "sendPacket(fd, data, ifindex, lladdr, ethertype) takes 5 arguments");
  int fd, ifindex, ethertype;
  void *data, *ll;
  size_t len, lllen;
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], "data", &data, &len) ||
      !arg_int(env, argv[2], "ifindex", 1, INT32_MAX, &ifindex) || !arg_bytes(env, argv[3], "lladdr", &ll, &lllen) ||
      !arg_int(env, argv[4], "ethertype", 0, 0xffff, &ethertype))
    return NULL;
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  if (lllen == 0 || lllen > sizeof to.sll_addr) {
    napi_throw(env, make_error(env, EINVAL, "arg", "lladdr must be 1 to %zu bytes, got %zu", sizeof to.sll_addr, lllen));
    return NULL;
  }
  to.sll_family = AF_PACKET;
  to.sll_protocol = htons((uint16_t)ethertype);
  to.sll_ifindex = ifindex;
  to.sll_halen = (unsigned char)lllen;
  memcpy(to.sll_addr, ll, lllen);
  ssize_t n;
  do {
    n = sendto(fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, sizeof to);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    if (e == ENODEV || e == ENXIO) THROW_ERRNO(env, ENODEV, "sendto", "sendto: no such interface index: %d", ifindex);
    THROW_ERRNO(env, e, "sendto", "sendto (packet, ifindex %d): %s", ifindex, strerror(e));
  }
  napi_value r;
  napi_create_int64(env, (int64_t)n, &r);
  return r;
}

static void unwatch_fd(napi_env env, inst_t *inst, int fd);

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return NULL;
  unwatch_fd(env, get_inst(env), fd);  // stop polling before the fd number can be reused
  if (close(fd) < 0 && errno != EINTR) THROW_ERRNO(env, errno, "close", NULL);
  return NULL;
}

static napi_value js_setsockopt(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, level, name;
  if (argc < 4) THROW_TYPE(env, "setsockopt(fd, level, name, value) takes 4 arguments");
  if (!arg_fd(env, argv[0], &fd) || !arg_int(env, argv[1], "level", 0, INT32_MAX, &level) ||
      !arg_int(env, argv[2], "name", 0, INT32_MAX, &name))
    return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[3], &t);
  int rc;
  if (t == napi_number) {
    int v;
    if (!arg_int(env, argv[3], "value", INT32_MIN, INT32_MAX, &v)) return NULL;
    rc = setsockopt(fd, level, name, &v, sizeof v);
  } else {
    void *data;
    size_t len;
    if (!arg_bytes(env, argv[3], "value", &data, &len)) return NULL;
    rc = setsockopt(fd, level, name, data, (socklen_t)len);
  }
  if (rc < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "setsockopt", "setsockopt(fd %d, level %d, name %d): %s", fd, level, name, strerror(e));
  }
  return NULL;
}

static napi_value js_getsockopt_int(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, level, name;
  if (argc < 3) THROW_TYPE(env, "getsockoptInt(fd, level, name) takes 3 arguments");
  if (!arg_fd(env, argv[0], &fd) || !arg_int(env, argv[1], "level", 0, INT32_MAX, &level) ||
      !arg_int(env, argv[2], "name", 0, INT32_MAX, &name))
    return NULL;
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, level, name, &v, &len) < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "getsockopt", "getsockopt(fd %d, level %d, name %d): %s", fd, level, name, strerror(e));
  }
  napi_value r;
  napi_create_int32(env, v, &r);
  return r;
}

static napi_value js_bind_to_device(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  char name[IF_NAMESIZE];
  if (argc < 2) THROW_TYPE(env, "bindToDevice(fd, ifname) takes 2 arguments");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[1], NULL, 0, &len);
    if (len >= IF_NAMESIZE) THROW_ERRNO(env, ENODEV, "setsockopt", "no such interface: name too long (%zu bytes, max %d)", len, IF_NAMESIZE - 1);
  }
  if (!arg_str(env, argv[1], "ifname", name, sizeof name)) return NULL;
  // An empty name removes the binding.
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name)) < 0) {
    int e = errno;
    if (e == ENODEV) THROW_ERRNO(env, e, "setsockopt", "no such interface: %s", name);
    if (e == EPERM) THROW_ERRNO(env, e, "setsockopt", "SO_BINDTODEVICE %s needs CAP_NET_RAW", name);
    THROW_ERRNO(env, e, "setsockopt", "SO_BINDTODEVICE %s: %s", name, strerror(e));
  }
  return NULL;
}

static napi_value membership(napi_env env, napi_callback_info info, int opt, const char *what) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, ifindex;
  struct ipv6_mreq mreq;
  uint32_t scope;
  if (argc < 3) THROW_TYPE(env, "joinGroup/leaveGroup(fd, group, ifindex) take 3 arguments");
  if (!arg_fd(env, argv[0], &fd) || !parse_addr(env, argv[1], "group", &mreq.ipv6mr_multiaddr, &scope) ||
      !arg_int(env, argv[2], "ifindex", 0, INT32_MAX, &ifindex))
    return NULL;
  if (!IN6_IS_ADDR_MULTICAST(&mreq.ipv6mr_multiaddr)) {
    char s[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &mreq.ipv6mr_multiaddr, s, sizeof s);
    THROW_ERRNO(env, EINVAL, "setsockopt", "%s: %s is not a multicast address", what, s);
  }
  mreq.ipv6mr_interface = (unsigned)(ifindex != 0 ? (uint32_t)ifindex : scope);
  if (setsockopt(fd, IPPROTO_IPV6, opt, &mreq, sizeof mreq) < 0) {
    int e = errno;
    char s[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &mreq.ipv6mr_multiaddr, s, sizeof s);
    if (e == ENODEV) THROW_ERRNO(env, e, "setsockopt", "%s %s: no such interface index: %u", what, s, mreq.ipv6mr_interface);
    THROW_ERRNO(env, e, "setsockopt", "%s %s on ifindex %u: %s", what, s, mreq.ipv6mr_interface, strerror(e));
  }
  return NULL;
}

static napi_value js_join_group(napi_env env, napi_callback_info info) {
  return membership(env, info, IPV6_ADD_MEMBERSHIP, "IPV6_ADD_MEMBERSHIP");
}

static napi_value js_leave_group(napi_env env, napi_callback_info info) {
  return membership(env, info, IPV6_DROP_MEMBERSHIP, "IPV6_DROP_MEMBERSHIP");
}

// struct icmp6_filter: 8 x u32; in Linux a SET bit BLOCKS the type (K raw.c icmpv6_filter).
static napi_value js_set_icmp6_filter(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 2) THROW_TYPE(env, "setIcmp6Filter(fd, allowedTypes) takes 2 arguments");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) THROW_TYPE(env, "allowedTypes must be an array of ICMPv6 types (0-255)");
  uint32_t n;
  napi_get_array_length(env, argv[1], &n);
  struct icmp6_filter f;
  memset(&f, 0xff, sizeof f);  // block all
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    int type;
    napi_get_element(env, argv[1], i, &e);
    if (!arg_int(env, e, "ICMPv6 type", 0, 255, &type)) return NULL;
    f.icmp6_filt[type >> 5] &= ~(1u << (type & 31));  // clear = pass
  }
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f) < 0) {
    int e = errno;
    if (e == ENOPROTOOPT || e == EINVAL || e == EOPNOTSUPP)
      THROW_ERRNO(env, e, "setsockopt", "ICMP6_FILTER needs an ICMPv6 (proto 58) socket: %s", strerror(e));
    THROW_ERRNO(env, e, "setsockopt", "ICMP6_FILTER: %s", strerror(e));
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// recv / send

// What the kernel said about a datagram, written into `meta` (52 bytes, host byte order words):
// [0..15] source address, [16..31] destination (IPV6_PKTINFO), then u32 scope id, i32 ifindex,
// i32 hop limit (-1: none), u32 truncated, u32 source port. No object, no string and no buffer
// is created per datagram: at 2,000 datagrams a second those were a visible share of the
// daemon's CPU (issue 8); the TypeScript side copies the payload out and formats addresses
// through a small cache.
#define META_BYTES 52
static void write_meta(void *meta, const struct msghdr *msg, const struct sockaddr_in6 *from, size_t n, size_t buflen) {
  struct in6_addr dst = IN6ADDR_ANY_INIT;
  int32_t ifindex = 0, hop = -1;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
    if (c->cmsg_level != IPPROTO_IPV6) continue;
    if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
      struct in6_pktinfo pi;
      memcpy(&pi, CMSG_DATA(c), sizeof pi);
      dst = pi.ipi6_addr;
      ifindex = (int32_t)pi.ipi6_ifindex;
    } else if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int h;
      memcpy(&h, CMSG_DATA(c), sizeof h);
      hop = h;
    }
  }
  uint32_t words[5] = {from->sin6_scope_id, (uint32_t)ifindex, (uint32_t)hop,
                       (msg->msg_flags & MSG_TRUNC) != 0 || n > buflen, ntohs(from->sin6_port)};
  unsigned char *m = meta;
  memcpy(m, &from->sin6_addr, 16);
  memcpy(m + 16, &dst, 16);
  memcpy(m + 32, words, sizeof words);
}

// recvBatch(fd, buf, slotSize, meta, max) -> how many datagrams one recvmmsg(2) returned, 0 when
// nothing is queued. Datagram i is at buf[i * slotSize], its meta at meta[i * META_STRIDE]: the
// layout above, then a u32 with its length. A readiness callback finds a handful of PBAs
// queued (an LMA answers a refresh burst as it arrives): one system call for all of them, and
// none to learn that the queue is empty when fewer came than asked for (issue 8).
#define META_STRIDE 56
#define BATCH_MAX 64
static napi_value js_recv_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd, slot, max;
  void *buf, *meta;
  size_t buflen, metalen;
  if (argc < 5) THROW_TYPE(env, "recvBatch(fd, buf, slotSize, meta, max) takes 5 arguments");
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], "buf", &buf, &buflen) ||
      !arg_int(env, argv[2], "slotSize", 1, INT32_MAX, &slot) || !arg_bytes(env, argv[3], "meta", &meta, &metalen) ||
      !arg_int(env, argv[4], "max", 1, BATCH_MAX, &max))
    return NULL;
  if ((size_t)max * (size_t)slot > buflen || (size_t)max * META_STRIDE > metalen)
    THROW_ERRNO(env, EINVAL, "arg", "recvBatch: %d slots of %d bytes need a bigger buf or meta", max, slot);

  struct sockaddr_in6 from[BATCH_MAX];
  struct iovec iov[BATCH_MAX];
  struct mmsghdr mm[BATCH_MAX];
  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + 256];
    struct cmsghdr align;
  } cbuf[BATCH_MAX];
  int n;
  do {
    memset(mm, 0, sizeof(struct mmsghdr) * (size_t)max);
    for (int i = 0; i < max; i++) {
      memset(&from[i], 0, sizeof from[i]);
      iov[i].iov_base = (char *)buf + (size_t)i * (size_t)slot;
      iov[i].iov_len = (size_t)slot;
      mm[i].msg_hdr.msg_name = &from[i];
      mm[i].msg_hdr.msg_namelen = sizeof from[i];
      mm[i].msg_hdr.msg_iov = &iov[i];
      mm[i].msg_hdr.msg_iovlen = 1;
      mm[i].msg_hdr.msg_control = cbuf[i].buf;
      mm[i].msg_hdr.msg_controllen = sizeof cbuf[i].buf;
    }
    n = recvmmsg(fd, mm, (unsigned)max, MSG_DONTWAIT, NULL);
  } while (n < 0 && errno == EINTR);
  napi_value r;
  if (n < 0) {
    int e = errno;
    if (e == EAGAIN || e == EWOULDBLOCK) {
      napi_create_int32(env, 0, &r);
      return r;
    }
    THROW_ERRNO(env, e, "recvmmsg", NULL);
  }
  for (int i = 0; i < n; i++) {
    unsigned char *m = (unsigned char *)meta + (size_t)i * META_STRIDE;
    size_t len = mm[i].msg_len;
    write_meta(m, &mm[i].msg_hdr, &from[i], len, (size_t)slot);
    uint32_t kept = (uint32_t)(len > (size_t)slot ? (size_t)slot : len);
    memcpy(m + META_BYTES, &kept, sizeof kept);
  }
  napi_create_int32(env, n, &r);
  return r;
}

// ntop(bytes, offset) -> the IPv6 address at bytes[offset..offset+16) in text form (inet_ntop).
static napi_value js_ntop(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *bytes;
  size_t len;
  int off;
  if (argc < 2) THROW_TYPE(env, "ntop(bytes, offset) takes 2 arguments");
  if (!arg_bytes(env, argv[0], "bytes", &bytes, &len) || !arg_int(env, argv[1], "offset", 0, INT32_MAX, &off)) return NULL;
  if ((size_t)off + 16 > len) THROW_ERRNO(env, EINVAL, "arg", "ntop: offset %d leaves fewer than 16 bytes", off);
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, (unsigned char *)bytes + off, text, sizeof text);
  napi_value r;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &r);
  return r;
}

// undefined or null: an option not given.
static bool is_unset(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

// send(fd, data, dst, src, ifindex, hopLimit, port): the options come as arguments, not as an
// object, so a send reads no named property (each would make and look up a key string: four
// per PBU, issue 8). undefined or null: not set. The names in the errors are the JS options'.
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  void *data;
  size_t len;
  struct sockaddr_in6 to;
  uint32_t zone;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  if (argc < 7) THROW_TYPE(env, "send(fd, data, dst, src, ifindex, hopLimit, port) takes 7 arguments");
  if (!arg_fd(env, argv[0], &fd) || !arg_bytes(env, argv[1], "data", &data, &len) ||
      !parse_addr(env, argv[2], "dst", &to.sin6_addr, &zone))
    return NULL;

  int ifindex = 0, hop = -1, port = 0;
  bool have_src = false;
  struct in6_addr src = IN6ADDR_ANY_INIT;
  if (!is_unset(env, argv[4]) && !arg_int(env, argv[4], "opts.ifindex", 0, INT32_MAX, &ifindex)) return NULL;
  if (!is_unset(env, argv[5]) && !arg_int(env, argv[5], "opts.hopLimit", -1, 255, &hop)) return NULL;
  if (!is_unset(env, argv[6]) && !arg_int(env, argv[6], "opts.port", 0, 65535, &port)) return NULL;
  to.sin6_port = htons((uint16_t)port);  // UDP sockets only; raw sockets ignore it
  if (!is_unset(env, argv[3])) {
    uint32_t src_zone;
    if (!parse_addr(env, argv[3], "opts.src", &src, &src_zone)) return NULL;
    have_src = true;
    if (ifindex == 0 && src_zone != 0) ifindex = (int)src_zone;
  }
  if (ifindex == 0) ifindex = (int)zone;
  // Link-local and multicast destinations need a scope: the outgoing interface.
  if (IN6_IS_ADDR_LINKLOCAL(&to.sin6_addr) || IN6_IS_ADDR_MULTICAST(&to.sin6_addr))
    to.sin6_scope_id = (uint32_t)ifindex;

  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } cbuf;
  memset(&cbuf, 0, sizeof cbuf);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = &to;
  msg.msg_namelen = sizeof to;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  size_t clen = 0;
  struct cmsghdr *c = (struct cmsghdr *)cbuf.buf;
  if (have_src || ifindex != 0) {
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    pi.ipi6_addr = src;
    pi.ipi6_ifindex = (unsigned)ifindex;
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof pi);
    memcpy(CMSG_DATA(c), &pi, sizeof pi);
    clen += CMSG_SPACE(sizeof pi);
    c = (struct cmsghdr *)(cbuf.buf + clen);
  }
  if (hop >= 0) {
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_HOPLIMIT;
    c->cmsg_len = CMSG_LEN(sizeof hop);
    memcpy(CMSG_DATA(c), &hop, sizeof hop);
    clen += CMSG_SPACE(sizeof hop);
  }
  if (clen > 0) {
    msg.msg_control = cbuf.buf;
    msg.msg_controllen = clen;
  }
  ssize_t n;
  do {
    n = sendmsg(fd, &msg, MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    int e = errno;
    char d[INET6_ADDRSTRLEN], s[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, &to.sin6_addr, d, sizeof d);
    inet_ntop(AF_INET6, &src, s, sizeof s);
    if (e == ENODEV || e == ENXIO)
      THROW_ERRNO(env, ENODEV, "sendmsg", "sendmsg to %s: no such interface index: %d", d, ifindex);
    if ((e == EADDRNOTAVAIL || e == EINVAL) && have_src)
      THROW_ERRNO(env, e, "sendmsg", "sendmsg to %s: source %s is not a usable address of this host (ifindex %d)", d, s, ifindex);
    if (e == EINVAL && ifindex == 0 && (IN6_IS_ADDR_LINKLOCAL(&to.sin6_addr) || IN6_IS_ADDR_MULTICAST(&to.sin6_addr)))
      THROW_ERRNO(env, e, "sendmsg", "sendmsg to %s: link-local/multicast destination needs an ifindex", d);
    THROW_ERRNO(env, e, "sendmsg", "sendmsg to %s (ifindex %d): %s", d, ifindex, strerror(e));
  }
  napi_value r;
  napi_create_int64(env, (int64_t)n, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// peer credentials of a connected UNIX socket (SO_PEERCRED): the control socket checks them,
// since Node's net module does not expose them

static napi_value js_peer_credentials(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 1 || !arg_int(env, argv[0], "fd", 0, INT32_MAX, &fd)) return NULL;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "getsockopt", "getsockopt(%d, SO_PEERCRED): %s", fd, strerror(e));
  }
  napi_value r, v;
  napi_create_object(env, &r);
  napi_create_int32(env, (int32_t)cred.pid, &v);
  napi_set_named_property(env, r, "pid", v);
  napi_create_uint32(env, (uint32_t)cred.uid, &v);
  napi_set_named_property(env, r, "uid", v);
  napi_create_uint32(env, (uint32_t)cred.gid, &v);
  napi_set_named_property(env, r, "gid", v);
  return r;
}

// ---------------------------------------------------------------------------------------------
// clock state: is the system clock synchronised (by NTP, chrony, timesyncd)? Node has no
// adjtimex; the MAG waits for this after a TIMESTAMP_MISMATCH (RFC 5213 §6.9.1.2 item 9).

static napi_value js_clock_synced(napi_env env, napi_callback_info info) {
  struct timex tx;
  memset(&tx, 0, sizeof tx);  // modes 0: read only, no privilege needed
  int state = adjtimex(&tx);
  if (state < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "adjtimex", "adjtimex: %s", strerror(e));
  }
  // The kernel sets STA_UNSYNC until a time daemon disciplines the clock, and again when it
  // stops doing so (maxerror past 16 s); TIME_ERROR says the same.
  napi_value r;
  napi_get_boolean(env, state != TIME_ERROR && (tx.status & STA_UNSYNC) == 0, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// scheduling: the calling thread only (sched_setscheduler with pid 0 names the caller, not the
// process), so a daemon can put its event-loop thread under SCHED_RR while V8's helper threads
// and libuv's threadpool stay ordinary tasks. Priority 0 puts the thread back to SCHED_OTHER.

static napi_value js_set_thread_realtime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t prio = 0;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &prio) != napi_ok) THROW_TYPE(env, "priority must be an integer");
  int policy = prio > 0 ? SCHED_RR : SCHED_OTHER;
  if (prio < 0 || prio > sched_get_priority_max(SCHED_RR)) THROW_TYPE(env, "priority out of range");
  struct sched_param sp;
  memset(&sp, 0, sizeof sp);
  sp.sched_priority = prio;
  if (sched_setscheduler(0, policy, &sp) < 0) {
    int e = errno;
    THROW_ERRNO(env, e, "sched_setscheduler", "sched_setscheduler(SCHED_RR, %d): %s", prio, strerror(e));
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// interface names

static napi_value js_if_name_to_index(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) THROW_TYPE(env, "ifNameToIndex(name) takes 1 argument");
  napi_valuetype t;
  napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(env, argv[0], NULL, 0, &len);
    if (len >= IF_NAMESIZE) THROW_ERRNO(env, ENODEV, "if_nametoindex", "no such interface: name too long (%zu bytes, max %d)", len, IF_NAMESIZE - 1);
  }
  char name[IF_NAMESIZE];
  if (!arg_str(env, argv[0], "name", name, sizeof name)) return NULL;
  unsigned idx = if_nametoindex(name);
  if (idx == 0) THROW_ERRNO(env, ENODEV, "if_nametoindex", "no such interface: %s", name);
  napi_value r;
  napi_create_uint32(env, idx, &r);
  return r;
}

static napi_value js_if_index_to_name(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int idx;
  if (argc < 1 || !arg_int(env, argv[0], "ifindex", 1, INT32_MAX, &idx)) return NULL;
  char name[IF_NAMESIZE];
  if (if_indextoname((unsigned)idx, name) == NULL) {
    int e = errno;
    if (e == ENXIO || e == ENODEV) THROW_ERRNO(env, ENODEV, "if_indextoname", "no such interface index: %d", idx);
    THROW_ERRNO(env, e, "if_indextoname", "if_indextoname(%d): %s", idx, strerror(e));
  }
  napi_value r;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// readiness: one uv_poll_t per watched fd on the env's (main) loop

static void free_watch(uv_handle_t *h) { free(h); }

static void release_watch(napi_env env, watch_t *w, bool env_alive) {
  uv_poll_stop(&w->poll);
  if (env_alive) {
    napi_delete_reference(env, w->cb);
    napi_async_destroy(env, w->actx);
  }
  uv_close((uv_handle_t *)&w->poll, free_watch);
}

static void unwatch_fd(napi_env env, inst_t *inst, int fd) {
  for (watch_t **pp = &inst->watches; *pp != NULL; pp = &(*pp)->next) {
    if ((*pp)->fd == fd) {
      watch_t *w = *pp;
      *pp = w->next;
      release_watch(env, w, true);
      return;
    }
  }
}

static watch_t *find_watch(inst_t *inst, int fd) {
  for (watch_t *w = inst->watches; w != NULL; w = w->next)
    if (w->fd == fd) return w;
  return NULL;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  watch_t *w = (watch_t *)h;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, arg;
  napi_get_reference_value(env, w->cb, &cb);
  napi_get_global(env, &recv);  // napi_make_callback needs an object receiver
  if (status < 0) {
    arg = make_error(env, -status, "uv_poll", "poll on fd %d failed: %s", w->fd, uv_strerror(status));
    uv_poll_stop(h);  // the JS side gets the error and decides; do not spin
  } else {
    napi_get_null(env, &arg);
  }
  // The callback may unwatch or close this fd: do not touch w after this call.
  if (cb != NULL && napi_make_callback(env, w->actx, recv, cb, 1, &arg, NULL) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value ex;
      napi_get_and_clear_last_exception(env, &ex);
      napi_fatal_exception(env, ex);  // -> process 'uncaughtException', like any other callback
    }
  }
  napi_close_handle_scope(env, scope);
}

// watch(fd, cb): cb(err: Error | null) whenever fd is readable; replaces an earlier callback.
static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 2) THROW_TYPE(env, "watch(fd, callback) takes 2 arguments");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) THROW_TYPE(env, "callback must be a function");
  inst_t *inst = get_inst(env);
  watch_t *w = find_watch(inst, fd);
  if (w != NULL) {
    napi_delete_reference(env, w->cb);
    CHECK(env, napi_create_reference(env, argv[1], 1, &w->cb));
    int rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
    if (rc < 0) THROW_ERRNO(env, -rc, "uv_poll_start", "uv_poll_start(fd %d): %s", fd, uv_strerror(rc));
    return NULL;
  }
  uv_loop_t *loop;
  CHECK(env, napi_get_uv_event_loop(env, &loop));
  w = calloc(1, sizeof *w);
  if (w == NULL) THROW_ERRNO(env, ENOMEM, "calloc", NULL);
  w->env = env;
  w->fd = fd;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    THROW_ERRNO(env, -rc, "uv_poll_init", "uv_poll_init(fd %d): %s", fd, uv_strerror(rc));
  }
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "rawsock:poll", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &w->cb) != napi_ok ||
      napi_async_init(env, resource, name, &w->actx) != napi_ok) {
    uv_close((uv_handle_t *)&w->poll, free_watch);
    napi_throw_error(env, NULL, "rawsock: cannot set up the poll callback");
    return NULL;
  }
  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    release_watch(env, w, true);
    THROW_ERRNO(env, -rc, "uv_poll_start", "uv_poll_start(fd %d): %s", fd, uv_strerror(rc));
  }
  w->next = inst->watches;
  inst->watches = w;
  return NULL;
}

static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return NULL;
  unwatch_fd(env, get_inst(env), fd);
  return NULL;
}

// setRef(fd, ref): whether a watched fd keeps the event loop (the process) alive.
static napi_value js_set_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int fd;
  bool ref = true;
  if (argc < 2 || !arg_fd(env, argv[0], &fd)) return NULL;
  napi_get_value_bool(env, argv[1], &ref);
  watch_t *w = find_watch(get_inst(env), fd);
  if (w != NULL) {
    if (ref) uv_ref((uv_handle_t *)&w->poll);
    else uv_unref((uv_handle_t *)&w->poll);
  }
  return NULL;
}

// ---------------------------------------------------------------------------------------------
// module

static void env_cleanup(void *arg) {
  inst_t *inst = arg;
  watch_t *w = inst->watches;
  inst->watches = NULL;
  while (w != NULL) {
    watch_t *next = w->next;
    release_watch(w->env, w, false);
    w = next;
  }
}

static void inst_finalize(napi_env env, void *data, void *hint) {
  inst_t *inst = data;
  free(inst);
}

NAPI_MODULE_INIT() {
  inst_t *inst = calloc(1, sizeof *inst);
  if (inst == NULL) {
    napi_throw_error(env, NULL, "rawsock: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, inst, inst_finalize, NULL) != napi_ok) {
    free(inst);
    return NULL;
  }
  napi_add_env_cleanup_hook(env, env_cleanup, inst);

  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openUdp", NULL, js_open_udp, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setsockopt", NULL, js_setsockopt, NULL, NULL, NULL, napi_enumerable, NULL},
      {"getsockoptInt", NULL, js_getsockopt_int, NULL, NULL, NULL, napi_enumerable, NULL},
      {"bindToDevice", NULL, js_bind_to_device, NULL, NULL, NULL, napi_enumerable, NULL},
      {"joinGroup", NULL, js_join_group, NULL, NULL, NULL, napi_enumerable, NULL},
      {"leaveGroup", NULL, js_leave_group, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setIcmp6Filter", NULL, js_set_icmp6_filter, NULL, NULL, NULL, napi_enumerable, NULL},
      {"recvBatch", NULL, js_recv_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ntop", NULL, js_ntop, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openPacket", NULL, js_open_packet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendPacket", NULL, js_send_packet, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifNameToIndex", NULL, js_if_name_to_index, NULL, NULL, NULL, napi_enumerable, NULL},
      {"ifIndexToName", NULL, js_if_index_to_name, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watch", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"unwatch", NULL, js_unwatch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRef", NULL, js_set_ref, NULL, NULL, NULL, napi_enumerable, NULL},
      {"peerCredentials", NULL, js_peer_credentials, NULL, NULL, NULL, napi_enumerable, NULL},
      {"clockSynced", NULL, js_clock_synced, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setThreadRealtime", NULL, js_set_thread_realtime, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
