#pragma once
/// @file managed.hpp
/// The proxies of a manager's objects (Python's `DictProxy`, `ListProxy`,
/// `Namespace`, `AcquirerProxy`, `EventProxy`): `managed_dict`,
/// `managed_list`, `managed_namespace`, `managed_lock`, `managed_event`. An
/// actors::manager makes them (manager.hpp). A proxy is an address and an
/// object id, no descriptors: it can be passed to children, sent through
/// queues and pipes, and given to pool tasks.
///
/// Every call is one request to the manager and is atomic there. If the
/// manager process dies, every call (including one blocked in acquire() or
/// wait()) throws eof_error at once, naming the manager's pid; nothing hangs
/// and nothing is logged per call. Proxies may be used from any thread.

#include <actors/detail/managed.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>
#include <actors/time.hpp>

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace actors {

/// A dict in the manager (Python's `manager.dict()`). Keys keep insertion
/// order, as in Python. K and V must be Cereal-serializable.
template <class K, class V>
class managed_dict : public detail::managed {
public:
  using detail::managed::managed;

  void set(const K& key, const V& value) {
    call(detail::mop::set, detail::args(detail::blob(key), detail::blob(value)));
  }
  /// The value; throws errc::key_error if there is none (Python's KeyError).
  V get(const K& key) const {
    auto r = try_get(key);
    if (!r)
      throw error(errc::key_error, "managed_dict::get: no such key");
    return std::move(*r);
  }
  /// The value, or `fallback`.
  V get(const K& key, const V& fallback) const { return try_get(key).value_or(fallback); }
  std::optional<V> try_get(const K& key) const { return take(detail::mop::get, key); }
  bool contains(const K& key) const {
    return detail::unblob<bool>(call(detail::mop::contains, detail::args(detail::blob(key))).body);
  }
  /// Removes the key; false if it was not there.
  bool erase(const K& key) {
    return detail::unblob<bool>(call(detail::mop::erase, detail::args(detail::blob(key))).body);
  }
  /// Removes and returns the value; throws errc::key_error if absent.
  V pop(const K& key) {
    auto r = take(detail::mop::pop, key);
    if (!r)
      throw error(errc::key_error, "managed_dict::pop: no such key");
    return std::move(*r);
  }
  /// Removes and returns the value, or nullopt if absent.
  std::optional<V> try_pop(const K& key) { return take(detail::mop::pop, key); }
  /// Removes and returns the value, or `fallback` if absent (Python's
  /// pop(key, default)).
  V pop(const K& key, const V& fallback) { return try_pop(key).value_or(fallback); }
  /// Removes and returns the item inserted last (Python's popitem());
  /// throws errc::key_error if the dict is empty.
  std::pair<K, V> popitem() {
    auto r = detail::unblob<std::optional<std::pair<std::string, std::string>>>(
      call(detail::mop::popitem).body);
    if (!r)
      throw error(errc::key_error, "managed_dict::popitem: the dict is empty");
    return {detail::unblob<K>(r->first), detail::unblob<V>(r->second)};
  }
  /// Sets every key of `items`, in their order, in one step (Python's
  /// update()): `d.update({{"a", 1}, {"b", 2}})`.
  void update(const std::vector<std::pair<K, V>>& items) {
    std::vector<std::pair<std::string, std::string>> each;
    each.reserve(items.size());
    for (auto& [k, v] : items)
      each.emplace_back(detail::blob(k), detail::blob(v));
    call(detail::mop::update, detail::args(each));
  }
  /// The value of `key`, set to `value` first if absent, in one step.
  V setdefault(const K& key, const V& value) {
    return detail::unblob<V>(detail::unblob<std::string>(
      call(detail::mop::setdefault, detail::args(detail::blob(key), detail::blob(value))).body));
  }
  std::size_t size() const {
    return detail::unblob<std::uint64_t>(call(detail::mop::size).body);
  }
  void clear() { call(detail::mop::clear); }
  /// A snapshot of the items, in insertion order.
  std::vector<std::pair<K, V>> items() const {
    auto raw = detail::unblob<std::vector<std::pair<std::string, std::string>>>(
      call(detail::mop::items).body);
    std::vector<std::pair<K, V>> out;
    out.reserve(raw.size());
    for (auto& [k, v] : raw)
      out.emplace_back(detail::unblob<K>(k), detail::unblob<V>(v));
    return out;
  }
  std::vector<K> keys() const {
    std::vector<K> out;
    for (auto& kv : items())
      out.push_back(std::move(kv.first));
    return out;
  }
  std::vector<V> values() const {
    std::vector<V> out;
    for (auto& kv : items())
      out.push_back(std::move(kv.second));
    return out;
  }

private:
  std::optional<V> take(detail::mop op, const K& key) const {
    auto r = detail::unblob<std::optional<std::string>>(
      call(op, detail::args(detail::blob(key))).body);
    if (!r)
      return std::nullopt;
    return detail::unblob<V>(*r);
  }
};

/// A list in the manager (Python's `manager.list()`). Indices may be
/// negative, counting from the end, as in Python; out of range is
/// errc::key_error (Python's IndexError). The manager never decodes the
/// items: contains(), count(), index() and remove() compare their encoded
/// bytes, which is == for integers, strings, and ordered containers and
/// structs of them, but not for floating-point -0.0 and NaN or for
/// unordered containers. There is no sort(), for the same reason: sort a
/// copy from items(), then clear() and extend() (under a managed_lock if
/// other processes write meanwhile).
template <class T>
class managed_list : public detail::managed {
public:
  using detail::managed::managed;

  /// One past any index: slice(i, end) runs to the end of the list.
  static constexpr long end = std::numeric_limits<long>::max();

  void append(const T& v) { call(detail::mop::append, detail::args(detail::blob(v))); }
  void extend(const std::vector<T>& vs) {
    std::vector<std::string> each;
    for (auto& v : vs)
      each.push_back(detail::blob(v));
    call(detail::mop::extend, detail::args(each));
  }
  T get(long i) const { return item(detail::mop::at, i); }
  void set(long i, const T& v) {
    call(detail::mop::assign, detail::args(static_cast<std::int64_t>(i), detail::blob(v)));
  }
  void insert(long i, const T& v) {
    call(detail::mop::insert, detail::args(static_cast<std::int64_t>(i), detail::blob(v)));
  }
  /// Removes and returns the item at `i` (default: the last).
  T pop(long i = -1) { return item(detail::mop::pop_at, i); }
  /// Removes the first item equal to `v`; throws errc::key_error if there
  /// is none (Python: ValueError).
  void remove(const T& v) { call(detail::mop::remove, detail::args(detail::blob(v))); }
  /// Whether an item equals `v` (Python's `v in l`).
  bool contains(const T& v) const {
    return detail::unblob<bool>(call(detail::mop::contains, detail::args(detail::blob(v))).body);
  }
  /// How many items equal `v`.
  std::size_t count(const T& v) const {
    return detail::unblob<std::uint64_t>(
      call(detail::mop::count, detail::args(detail::blob(v))).body);
  }
  /// The position of the first item equal to `v` within [start, stop),
  /// bounds as in slice(); throws errc::key_error if there is none (Python:
  /// ValueError).
  std::size_t index(const T& v, long start = 0, long stop = end) const {
    return detail::unblob<std::uint64_t>(
      call(detail::mop::index, detail::args(detail::blob(v), static_cast<std::int64_t>(start),
                                            static_cast<std::int64_t>(stop)))
        .body);
  }
  /// Reverses the list in place.
  void reverse() { call(detail::mop::reverse); }
  /// Removes the items in [start, stop) (Python's `del l[start:stop]`),
  /// bounds as in slice(). For one item use pop(i).
  void erase(long start, long stop) {
    call(detail::mop::erase_slice,
         detail::args(static_cast<std::int64_t>(start), static_cast<std::int64_t>(stop)));
  }
  /// Repeats the items `n` times in place (Python's `l *= n`); n <= 0
  /// empties the list.
  void repeat(long n) { call(detail::mop::repeat, detail::args(static_cast<std::int64_t>(n))); }
  /// A snapshot of the items in [start, stop) (Python's `l[start:stop]`):
  /// negative bounds count from the end, bounds out of range are clamped,
  /// never an error.
  std::vector<T> slice(long start, long stop = end) const {
    return decoded(call(detail::mop::slice, detail::args(static_cast<std::int64_t>(start),
                                                        static_cast<std::int64_t>(stop)))
                     .body);
  }
  std::size_t size() const {
    return detail::unblob<std::uint64_t>(call(detail::mop::size).body);
  }
  void clear() { call(detail::mop::clear); }
  /// A snapshot of the items.
  std::vector<T> items() const { return decoded(call(detail::mop::items).body); }

private:
  static std::vector<T> decoded(const std::string& body) {
    auto raw = detail::unblob<std::vector<std::string>>(body);
    std::vector<T> out;
    out.reserve(raw.size());
    for (auto& r : raw)
      out.push_back(detail::unblob<T>(r));
    return out;
  }

  T item(detail::mop op, long i) const {
    return detail::unblob<T>(detail::unblob<std::string>(
      call(op, detail::args(static_cast<std::int64_t>(i))).body));
  }
};

/// A namespace of named values of any types (Python's `manager.Namespace()`):
/// `ns.set("total", 3)`, `ns.get<int>("total")`.
class managed_namespace : public detail::managed {
public:
  using detail::managed::managed;

  template <class T>
  void set(const std::string& name, const T& value) {
    call(detail::mop::set, detail::args(detail::blob(name), detail::blob(value)));
  }
  /// The value; errc::key_error if unset, errc::bad_payload if it is not a T.
  template <class T>
  T get(const std::string& name) const {
    auto r = detail::unblob<std::optional<std::string>>(
      call(detail::mop::get, detail::args(detail::blob(name))).body);
    if (!r)
      throw error(errc::key_error, "managed_namespace::get: no attribute '" + name + "'");
    return detail::unblob<T>(*r);
  }
  bool contains(const std::string& name) const {
    return detail::unblob<bool>(call(detail::mop::contains, detail::args(detail::blob(name))).body);
  }
  bool erase(const std::string& name) {
    return detail::unblob<bool>(call(detail::mop::erase, detail::args(detail::blob(name))).body);
  }
};

/// A lock in the manager (Python's `manager.Lock()` / `RLock()`). The
/// holder is a thread of a process. If the holding process dies (or drops
/// its last handle to the manager), the lock is released and the next
/// acquirer is told: owner_died() is true after its acquire().
/// Meets Lockable and TimedLockable: std::lock_guard, unique_lock work.
class managed_lock : public detail::managed {
public:
  using detail::managed::managed;

  /// Takes the lock; false if `blocking` is false or `timeout` passes first.
  bool acquire(bool blocking = true, duration timeout = forever) {
    auto r = call(detail::mop::acquire, detail::args(blocking), timeout);
    owner_died_ = r.flag;
    return !r.timed_out;
  }
  /// Throws errc::not_owner if this thread does not hold it.
  void release() { call(detail::mop::release); }
  bool locked() const { return detail::decode<bool>(call(detail::mop::locked).body); }
  /// Whether the last acquire() here found the previous holder dead.
  bool owner_died() const noexcept { return owner_died_; }

  void lock() { acquire(); }
  bool try_lock() { return acquire(false); }
  void unlock() { release(); }
  template <class Rep, class Period>
  bool try_lock_for(const std::chrono::duration<Rep, Period>& d) {
    return acquire(true, std::chrono::duration_cast<duration>(d));
  }

private:
  bool owner_died_ = false;
};

/// An event in the manager (Python's `manager.Event()`).
class managed_event : public detail::managed {
public:
  using detail::managed::managed;

  void set() { call(detail::mop::ev_set); }
  void clear() { call(detail::mop::ev_clear); }
  bool is_set() const { return detail::decode<bool>(call(detail::mop::ev_is_set).body); }
  /// Waits until set; false after `timeout`.
  bool wait(duration timeout = forever) { return !call(detail::mop::ev_wait, {}, timeout).timed_out; }
};

} // namespace actors
