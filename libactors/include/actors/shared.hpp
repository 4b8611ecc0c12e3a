#pragma once
/// @file shared.hpp
/// Python's multiprocessing.Value and Array: numbers (or any trivially
/// copyable type) in shared memory that every process they are passed to
/// sees. Each comes with a lock (get_lock()), as Python's do with lock=True;
/// made with `actors::no_lock` (Python's lock=False), or as raw_value and
/// raw_array (Python's RawValue and RawArray), they have none.
///
/// @code
/// void add_fifty(actors::value<int> v) {
///   for (int i = 0; i < 50; ++i)
///     v.fetch_add(1);                 // atomic: 9 processes make exactly 450
/// }
/// @endcode
///
/// The memory is an anonymous memfd: nothing appears in /dev/shm, and the
/// kernel frees it when the last process using it exits, crashes included.

#include <actors/errors.hpp>
#include <actors/sync.hpp>

#include <atomic>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <new>
#include <ostream>
#include <type_traits>
#include <vector>

namespace actors {

/// Makes a value or array without a lock (Python's `lock=False`):
/// `actors::value<int> v(0, actors::no_lock);`.
struct no_lock_t {
  explicit no_lock_t() = default;
};
inline constexpr no_lock_t no_lock{};

namespace detail {

template <class T>
inline constexpr bool lock_free_v = std::is_arithmetic_v<T> || std::is_pointer_v<T>
                                      ? std::atomic<T>::is_always_lock_free
                                      : false;

// Layout of a segment: [robust mutex][elements], the elements aligned. A
// value or array without a lock leaves the mutex bytes unused.
template <class T>
std::size_t elements_offset() noexcept {
  auto a = alignof(std::atomic<T>) > alignof(T) ? alignof(std::atomic<T>) : alignof(T);
  return (mutex_bytes() + a - 1) / a * a;
}

template <class T, class = void>
struct printable : std::false_type {};
template <class T>
struct printable<T, std::void_t<decltype(std::declval<std::ostream&>() << std::declval<T>())>>
  : std::true_type {};

// get_lock() of a value or array made without one.
[[noreturn]] inline void throw_no_lock(const char* kind) {
  throw error(errc::bad_argument,
              std::string(kind) + "::get_lock: it was made without a lock (no_lock, or raw_"
                + kind + "); guard compound updates with an actors::mutex of your own");
}

} // namespace detail

/// A T in shared memory. Lock-free numbers get atomic operations; other
/// trivially copyable types are read and written under the value's lock.
/// - Thread- and process-safe per operation. Compound updates
///   (`v.store(v.load() + 1)`) need `get_lock()`, as in Python.
/// - Without a lock (`no_lock`, raw_value), lock-free numbers are still
///   atomic, but other types are copied in and out unguarded: the caller
///   keeps writers apart from everyone else, as with Python's RawValue.
template <class T>
class value : public detail::segment_handle {
  static_assert(std::is_trivially_copyable_v<T>,
                "actors::value<T>: T must be trivially copyable to live in shared memory");

public:
  /// A new shared T holding `initial`. Throws errc::system_error.
  explicit value(T initial = T{}) {
    if (detail::decoding())
      return; // a placeholder that load() fills in
    segment_ = std::make_shared<detail::shm_segment>(detail::elements_offset<T>()
                                                     + sizeof(slot));
    detail::init_robust_mutex(segment_->data(), false);
    new (ptr()) slot(initial);
  }

  /// A new shared T holding `initial`, without a lock (Python's
  /// Value(..., lock=False)): get_lock() throws errc::bad_argument. Throws
  /// errc::system_error.
  value(T initial, no_lock_t) : locked_(false) {
    if (detail::decoding())
      return;
    segment_ = std::make_shared<detail::shm_segment>(detail::elements_offset<T>()
                                                     + sizeof(slot));
    new (ptr()) slot(initial);
  }

  T load() const {
    if constexpr (detail::lock_free_v<T>) {
      return ptr()->load();
    } else if (!locked_) {
      return *ptr();
    } else {
      auto m = get_lock();
      std::lock_guard<mutex> hold(m);
      return *ptr();
    }
  }

  void store(T v) {
    if constexpr (detail::lock_free_v<T>) {
      ptr()->store(v);
    } else if (!locked_) {
      *ptr() = v;
    } else {
      auto m = get_lock();
      std::lock_guard<mutex> hold(m);
      *ptr() = v;
    }
  }

  operator T() const { return load(); }
  value& operator=(T v) {
    store(v);
    return *this;
  }

  /// Atomic read-modify-write, for lock-free numbers.
  template <class U = T, class = std::enable_if_t<detail::lock_free_v<U>>>
  T fetch_add(T d) {
    return ptr()->fetch_add(d);
  }
  template <class U = T, class = std::enable_if_t<detail::lock_free_v<U>>>
  T fetch_sub(T d) {
    return ptr()->fetch_sub(d);
  }
  template <class U = T, class = std::enable_if_t<detail::lock_free_v<U>>>
  T exchange(T v) {
    return ptr()->exchange(v);
  }
  template <class U = T, class = std::enable_if_t<detail::lock_free_v<U>>>
  bool compare_exchange(T& expected, T desired) {
    return ptr()->compare_exchange_strong(expected, desired);
  }

  /// The lock that guards compound updates (Python's get_lock()). Throws
  /// errc::bad_argument for a value made without a lock.
  mutex get_lock() const {
    if (!locked_)
      detail::throw_no_lock("value");
    return mutex(segment_, 0);
  }

  /// False for a value made without a lock (no_lock, raw_value).
  bool has_lock() const noexcept { return locked_; }

  // load() above is the atomic read; these are how the handle travels.
  template <class Archive>
  void save(Archive& ar) const {
    detail::segment_handle::save(ar);
    ar(locked_);
  }
  template <class Archive>
  void load(Archive& ar) {
    detail::segment_handle::load(ar);
    ar(locked_);
  }

private:
  bool locked_ = true;

  using slot = std::conditional_t<detail::lock_free_v<T>, std::atomic<T>, T>;

  slot* ptr() const {
    if (!segment_)
      throw error(errc::closed, "this shared value is not attached to memory");
    return std::launder(
      reinterpret_cast<slot*>(segment_->data() + detail::elements_offset<T>()));
  }

};

/// n Ts in shared memory (Python's multiprocessing.Array). Elements of
/// lock-free number types are std::atomic<T>: `a[i].fetch_add(1)`.
template <class T>
class array {
  static_assert(detail::lock_free_v<T>,
                "actors::array<T>: T must be a lock-free number type (int, double, ...)");

public:
  /// n elements, each `initial`. Throws errc::system_error.
  explicit array(std::size_t n = 0, T initial = T{}) {
    if (detail::decoding())
      return;
    attach(n);
    detail::init_robust_mutex(segment_->data(), false);
    fill(initial);
  }
  array(std::initializer_list<T> init) : array(init.size()) { copy(init); }

  /// The same without a lock (Python's Array(..., lock=False)): get_lock()
  /// throws errc::bad_argument. The elements stay atomic.
  array(std::size_t n, T initial, no_lock_t) : locked_(false) {
    if (detail::decoding())
      return;
    attach(n);
    fill(initial);
  }
  array(std::initializer_list<T> init, no_lock_t) : array(init.size(), T{}, no_lock) {
    copy(init);
  }

  std::size_t size() const noexcept { return size_; }
  std::atomic<T>& operator[](std::size_t i) const { return at(i); }

  /// Throws errc::bad_argument when i is out of range.
  std::atomic<T>& at(std::size_t i) const {
    if (i >= size_)
      throw error(errc::bad_argument, "array index " + std::to_string(i) + " out of range "
                                        + std::to_string(size_));
    return *std::launder(reinterpret_cast<std::atomic<T>*>(
      segment_->data() + detail::elements_offset<T>() + i * sizeof(std::atomic<T>)));
  }

  /// A copy of every element.
  std::vector<T> to_vector() const {
    std::vector<T> out;
    for (std::size_t i = 0; i < size_; ++i)
      out.push_back(at(i).load());
    return out;
  }

  /// The lock that guards compound updates (Python's get_lock()). Throws
  /// errc::bad_argument for an array made without a lock.
  mutex get_lock() const {
    if (!locked_)
      detail::throw_no_lock("array");
    return mutex(segment_, 0);
  }

  /// False for an array made without a lock (no_lock, raw_array).
  bool has_lock() const noexcept { return locked_; }

  template <class Archive>
  void save(Archive& ar) const {
    detail::save_segment(ar, segment_);
    ar(static_cast<std::uint64_t>(size_), locked_);
  }
  template <class Archive>
  void load(Archive& ar) {
    segment_ = detail::load_segment(ar);
    std::uint64_t n = 0;
    ar(n, locked_);
    if (detail::elements_offset<T>() + n * sizeof(std::atomic<T>) > segment_->size())
      throw cereal::Exception("shared array larger than its memory");
    size_ = static_cast<std::size_t>(n);
  }

private:
  void attach(std::size_t n) {
    segment_ = std::make_shared<detail::shm_segment>(detail::elements_offset<T>()
                                                     + n * sizeof(std::atomic<T>));
    size_ = n;
  }
  void fill(T initial) {
    for (std::size_t i = 0; i < size_; ++i)
      new (&at(i)) std::atomic<T>(initial);
  }
  void copy(std::initializer_list<T> init) {
    std::size_t i = 0;
    for (auto v : init)
      at(i++).store(v);
  }

  std::shared_ptr<detail::shm_segment> segment_;
  std::size_t size_ = 0;
  bool locked_ = true;
};

/// Python's RawValue: a value<T> without a lock; get_lock() does not exist.
/// - Lock-free numbers are atomic per operation; other types are copied
///   unguarded, so the caller keeps writers apart from everyone else.
/// - Travels to other processes like value<T>; thread- and process-safe as
///   above. Throws errc::system_error from the constructor.
template <class T>
class raw_value : public value<T> {
public:
  explicit raw_value(T initial = T{}) : value<T>(initial, no_lock) {}
  using value<T>::operator=;
  mutex get_lock() const = delete;
};

/// Python's RawArray: an array<T> without a lock; get_lock() does not exist.
/// The elements are atomic all the same; travels like array<T>.
template <class T>
class raw_array : public array<T> {
public:
  explicit raw_array(std::size_t n = 0, T initial = T{}) : array<T>(n, initial, no_lock) {}
  raw_array(std::initializer_list<T> init) : array<T>(init, no_lock) {}
  mutex get_lock() const = delete;
};

/// Python's repr of a shared value, in this library's style: `<actors::value
/// 3>`, or `<actors::raw_value 3>` for one without a lock. Reads the value as
/// load() does; thread-safe. For types with an operator<< of their own.
template <class T, class = std::enable_if_t<detail::printable<T>::value>>
std::ostream& operator<<(std::ostream& os, const value<T>& v) {
  return os << (v.has_lock() ? "<actors::value " : "<actors::raw_value ") << v.load() << '>';
}

/// `<actors::array [1, 2, 3]>`, or `<actors::raw_array [...]>` without a
/// lock. Each element is read atomically, the whole is no snapshot (take
/// get_lock() around it for one); thread-safe.
template <class T>
std::ostream& operator<<(std::ostream& os, const array<T>& a) {
  os << (a.has_lock() ? "<actors::array [" : "<actors::raw_array [");
  for (std::size_t i = 0; i < a.size(); ++i)
    os << (i ? ", " : "") << a[i].load();
  return os << "]>";
}

} // namespace actors
