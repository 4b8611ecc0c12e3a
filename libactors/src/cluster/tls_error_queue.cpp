// A workaround for CAF 0.17's OpenSSL module: it does not empty OpenSSL's
// error queue before SSL_read() and SSL_write(). The queue is per thread,
// and all TLS links of a host run on the middleman's one multiplexer
// thread. When one link fails (a host killed: "unexpected eof" or a reset
// is queued), the next SSL_read() on any other link that merely has no
// data yet is reported as SSL_ERROR_SSL, because SSL_get_error() looks at
// the stale queue first, and CAF closes that healthy link too: killing one
// worker host cut the root off from every other (cluster.three found it).
// OpenSSL's documentation asks callers to empty the queue before each I/O
// call; these definitions do that and then call OpenSSL's own. They
// interpose OpenSSL's symbols for the whole program, which only adds that
// step. Linked in through link_tls_error_queue_fix(), which the gateway calls.
//
// The same place reports a handshake that this side refused: CAF 0.17
// drops such a connection without telling the application, so without this
// the root would never say why a host could not join.
#include <actors/log.hpp>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#include <cstdlib>
#include <string>

namespace {

template <class F>
F next_definition(const char* name) {
  auto* f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
  if (!f)
    std::abort(); // libssl is linked: this cannot fail
  return f;
}

// "10.0.0.2:41234", the far end of the handshake's socket.
std::string peer_of(SSL* ssl) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  int fd = SSL_get_fd(ssl);
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0)
    return "an unknown address";
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&sa);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (sa.ss_family == AF_INET6) {
    auto* in = reinterpret_cast<sockaddr_in6*>(&sa);
    ::inet_ntop(AF_INET6, &in->sin6_addr, host, sizeof host);
    port = ntohs(in->sin6_port);
  }
  return std::string(host) + ":" + std::to_string(port);
}

// A handshake this side ended with an error: says who and why, once.
void report_refused(SSL* ssl, int rc) {
  int kind = SSL_get_error(ssl, rc);
  if (kind == SSL_ERROR_WANT_READ || kind == SSL_ERROR_WANT_WRITE)
    return; // not done yet
  std::string why;
  if (auto code = ERR_peek_error()) {
    char text[256];
    ERR_error_string_n(code, text, sizeof text);
    why = text;
  } else {
    why = "the connection closed during the handshake";
  }
  long verify = SSL_get_verify_result(ssl);
  if (verify != X509_V_OK)
    why += std::string("; its certificate: ") + X509_verify_cert_error_string(verify);
  actors::log::warning() << "cluster: refused a TLS handshake from " << peer_of(ssl) << " (" << why
                         << "): a host must present a certificate signed by the cluster's CA";
}

} // namespace

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  static auto real = next_definition<int (*)(SSL*, void*, int)>("SSL_read");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  static auto real = next_definition<int (*)(SSL*, const void*, int)>("SSL_write");
  ERR_clear_error();
  return real(ssl, buf, num);
}

int SSL_connect(SSL* ssl) {
  static auto real = next_definition<int (*)(SSL*)>("SSL_connect");
  ERR_clear_error();
  return real(ssl);
}

int SSL_accept(SSL* ssl) {
  static auto real = next_definition<int (*)(SSL*)>("SSL_accept");
  ERR_clear_error();
  int rc = real(ssl);
  if (rc <= 0)
    report_refused(ssl, rc);
  return rc;
}

} // extern "C"

namespace actors::detail {

/// Called where the gateway starts TLS, so that a static link keeps this
/// file (nothing else in a program refers to it). Does nothing.
void link_tls_error_queue_fix() noexcept {}

} // namespace actors::detail
