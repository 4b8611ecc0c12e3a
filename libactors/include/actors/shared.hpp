#pragma once
/// @file shared.hpp
/// Python's multiprocessing.Value and Array: numbers (or any trivially
/// copyable type) in shared memory that every process they are passed to
/// sees. Each comes with a lock (get_lock()), as Python's do with lock=True.
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
#include <type_traits>
#include <vector>

namespace actors {

namespace detail {

template <class T>
inline constexpr bool lock_free_v = std::is_arithmetic_v<T> || std::is_pointer_v<T>
                                      ? std::atomic<T>::is_always_lock_free
                                      : false;

// Layout of a segment: [robust mutex][elements], the elements aligned.
template <class T>
std::size_t elements_offset() noexcept {
  auto a = alignof(std::atomic<T>) > alignof(T) ? alignof(std::atomic<T>) : alignof(T);
  return (mutex_bytes() + a - 1) / a * a;
}

} // namespace detail

/// A T in shared memory. Lock-free numbers get atomic operations; other
/// trivially copyable types are read and written under the value's lock.
/// - Thread- and process-safe per operation. Compound updates
///   (`v.store(v.load() + 1)`) need `get_lock()`, as in Python.
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

  T load() const {
    if constexpr (detail::lock_free_v<T>) {
      return ptr()->load();
    } else {
      auto m = get_lock();
      std::lock_guard<mutex> hold(m);
      return *ptr();
    }
  }

  void store(T v) {
    if constexpr (detail::lock_free_v<T>) {
      ptr()->store(v);
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

  /// The lock that guards compound updates (Python's get_lock()).
  mutex get_lock() const { return mutex(segment_, 0); }

  // load() above is the atomic read; these are how the handle travels.
  using detail::segment_handle::load;
  using detail::segment_handle::save;

private:
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
  /// n elements, each `initial`.
  explicit array(std::size_t n = 0, T initial = T{}) {
    if (detail::decoding())
      return;
    attach(n);
    for (std::size_t i = 0; i < n; ++i)
      new (&at(i)) std::atomic<T>(initial);
  }
  array(std::initializer_list<T> init) : array(init.size()) {
    std::size_t i = 0;
    for (auto v : init)
      at(i++).store(v);
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

  mutex get_lock() const { return mutex(segment_, 0); }

  template <class Archive>
  void save(Archive& ar) const {
    detail::save_segment(ar, segment_);
    ar(static_cast<std::uint64_t>(size_));
  }
  template <class Archive>
  void load(Archive& ar) {
    segment_ = detail::load_segment(ar);
    std::uint64_t n = 0;
    ar(n);
    if (detail::elements_offset<T>() + n * sizeof(std::atomic<T>) > segment_->size())
      throw cereal::Exception("shared array larger than its memory");
    size_ = static_cast<std::size_t>(n);
  }

private:
  void attach(std::size_t n) {
    segment_ = std::make_shared<detail::shm_segment>(detail::elements_offset<T>()
                                                     + n * sizeof(std::atomic<T>));
    detail::init_robust_mutex(segment_->data(), false);
    size_ = n;
  }

  std::shared_ptr<detail::shm_segment> segment_;
  std::size_t size_ = 0;
};

} // namespace actors
