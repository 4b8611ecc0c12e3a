#pragma once
// The wire between a manager's proxies and its server: where an object
// lives, the operations, one call, and the proxies' common base.
// Internal; use <actors/manager.hpp>.

#include <actors/detail/serialize.hpp>
#include <actors/detail/wire_endpoint.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actors::detail {

/// Where a managed object lives.
struct managed_address {
  std::string path; // the manager's socket
  std::uint32_t id = 0;
  int manager_pid = 0;

  // In a cluster the path names its host on the wire (wire_endpoint.hpp).
  template <class Archive>
  void save(Archive& ar) const {
    ar(cluster_host().empty() ? path : endpoint_to_wire(path), id, manager_pid);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(path, id, manager_pid);
    if (!cluster_host().empty())
      path = endpoint_from_wire(std::move(path));
  }
};

/// Operations on managed objects (the wire's op byte).
enum class mop : std::uint8_t {
  create = 1, shutdown, // on the manager itself (id 0)
  set, get, contains, erase, pop, size, clear, items, setdefault, // dict
  append, extend, at, assign, insert, pop_at, // list (and size, clear, items)
  acquire, release, locked, // lock
  ev_set, ev_clear, ev_is_set, ev_wait, // event
  queue, // the address of the manager's queue
  remove, index, count, reverse, slice, erase_slice, repeat, // list (and contains)
  popitem, update, // dict
};

/// What create makes.
enum class mkind : std::uint8_t { dict = 1, list, lock, rlock, event, queue };

/// One call: sends `op` with `args` (encoded fields) to the object at `a`;
/// returns the reply body. `timeout` is applied by the manager (acquire,
/// wait). Throws eof_error if the manager is gone, errc::key_error,
/// errc::not_owner, timeout_error as the manager answers.
struct manager_reply {
  bool flag = false; // acquire: the previous holder died
  bool timed_out = false;
  std::string body;
};
manager_reply manager_call(const managed_address& a, mop op, const std::string& args,
                           duration timeout = forever);

/// A request's fields: each user value is encoded on its own (a blob the
/// manager keeps without decoding); the tuple of fields is encoded again.
template <class... Ts>
std::string args(const Ts&... vs) {
  return encode(std::forward_as_tuple(vs...));
}
template <class T>
std::string blob(const T& v) {
  return encode(v);
}
template <class T>
T unblob(const std::string& bytes) {
  return decode<T>(bytes);
}

/// Base of every proxy: its address, and how it travels.
class managed {
public:
  managed() = default;
  explicit managed(managed_address a) : addr_(std::move(a)) {}
  const managed_address& address() const noexcept { return addr_; }
  template <class Archive>
  void serialize(Archive& ar) {
    ar(addr_);
  }

protected:
  manager_reply call(mop op, const std::string& a = {}, duration timeout = forever) const {
    return manager_call(addr_, op, a, timeout);
  }
  managed_address addr_;
};

} // namespace actors::detail
