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
// step. Linked in through tls_error_queue_fix(), which the gateway calls.
#include <dlfcn.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>

namespace {

template <class F>
F next_definition(const char* name) {
  auto* f = reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
  if (!f)
    std::abort(); // libssl is linked: this cannot fail
  return f;
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
  return real(ssl);
}

} // extern "C"

namespace actors::detail {

/// Referenced by the gateway so that a static link keeps this file.
bool tls_error_queue_fix() noexcept {
  return true;
}

} // namespace actors::detail
