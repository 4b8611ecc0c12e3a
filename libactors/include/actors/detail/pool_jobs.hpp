#pragma once
// What the pool's templates build before the supervisor takes over: checks
// on a task's function and result, a map's chunks and their shared future,
// one apply_async job and its callbacks. Internal; use actors::pool.

#include <actors/detail/pool_core.hpp>
#include <actors/errors.hpp>
#include <actors/future.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace actors::detail {

template <class F>
using traits_of = callable_traits<std::decay_t<F>>;

template <class F>
constexpr bool check_task_function() {
  static_assert(traits_of<F>::valid,
                "actors::pool: the function must be a free function, a function pointer or "
                "a lambda without captures");
  return traits_of<F>::valid;
}

template <class R>
constexpr bool check_result() {
  static_assert(is_serializable_v<stored_t<R>>,
                "actors::pool: the function's result type is not serializable with Cereal");
  return is_serializable_v<stored_t<R>>;
}

/// The items of a range, for map and starmap.
template <class T, class Range>
std::vector<T> collect(const Range& items) {
  std::vector<T> out;
  for (auto&& item : items)
    out.emplace_back(item);
  return out;
}

/// Encodes items [first, first + n) as a std::vector<T> would be.
template <class T>
std::string encode_slice(const T* first, std::size_t n) {
  std::string out;
  output_archive ar(out);
  ar(static_cast<cereal::size_type>(n));
  if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>)
    ar.saveBinary(first, n * sizeof(T));
  else
    for (std::size_t i = 0; i < n; ++i)
      ar(first[i]);
  return out;
}

/// A map's future: puts the chunks' results in place, reports progress.
template <class R>
class map_state : public result_state<std::vector<stored_t<R>>> {
public:
  using item_t = stored_t<R>;
  map_state(std::vector<std::size_t> sizes, progress_fn progress)
    : sizes_(std::move(sizes)), left_(sizes_.size()), progress_(std::move(progress)),
      start_(std::chrono::steady_clock::now()) {
    for (auto n : sizes_) {
      offsets_.push_back(total_);
      total_ += n;
    }
    if constexpr (in_place)
      all_.resize(total_);
    else
      parts_.resize(sizes_.size());
    if (left_ == 0)
      this->set({});
  }

  void deliver(std::size_t part, const char* data, std::size_t size) override {
    auto n = sizes_[part];
    if constexpr (std::is_arithmetic_v<item_t> && !std::is_same_v<item_t, bool>) {
      // The bytes of a vector of numbers are its count and its elements:
      // copied straight into place.
      std::uint64_t count = 0;
      if (size != sizeof count + n * sizeof(item_t)
          || (std::memcpy(&count, data, sizeof count), count != n))
        throw error(errc::bad_payload, "a map chunk came back with the wrong number of results");
      std::memcpy(all_.data() + offsets_[part], data + sizeof count, n * sizeof(item_t));
    } else {
      auto items = decode<std::vector<item_t>>(data, size);
      if (items.size() != n)
        throw error(errc::bad_payload, "a map chunk came back with the wrong number of results");
      if constexpr (in_place)
        std::move(items.begin(), items.end(), all_.begin() + static_cast<long>(offsets_[part]));
      else
        parts_[part] = std::move(items);
    }
    done_ += n;
    report(--left_ == 0);
    if (left_ > 0)
      return;
    if constexpr (!in_place) {
      all_.reserve(total_);
      for (auto& p : parts_)
        std::move(p.begin(), p.end(), std::back_inserter(all_));
      parts_.clear();
    }
    this->set(std::move(all_));
  }

private:
  static constexpr bool in_place = std::is_default_constructible_v<item_t>;

  void report(bool last) {
    if (!progress_)
      return;
    auto now = std::chrono::steady_clock::now();
    if (!last && now - last_report_ < std::chrono::milliseconds(100))
      return;
    last_report_ = now;
    progress_info info;
    info.done = done_;
    info.total = total_;
    info.elapsed = std::chrono::duration<double>(now - start_).count();
    info.rate = info.elapsed > 0 ? static_cast<double>(done_) / info.elapsed : 0;
    info.eta = info.rate > 0 ? static_cast<double>(total_ - done_) / info.rate : -1;
    progress_(info);
  }

  std::vector<std::size_t> sizes_, offsets_;
  std::vector<item_t> all_;
  std::vector<std::vector<item_t>> parts_; // when item_t has no default constructor
  std::size_t left_;
  std::uint64_t total_ = 0, done_ = 0;
  progress_fn progress_;
  std::chrono::steady_clock::time_point start_, last_report_{};
};

/// Submits one job for a single call, or fails the future if its arguments
/// do not encode. `prepare(future)` runs first (it attaches callbacks, which
/// then run on the supervisor even for a job that finishes at once).
template <class R, class Prepare>
future<R> submit_one(pool_core& core, any_fn fn, task_runner runner,
                     std::string (*encoder)(const void*), const void* args,
                     const job_label& label, duration timeout, int retries, Prepare&& prepare) {
  auto state = std::make_shared<result_state<R>>();
  {
    future<R> f(state);
    prepare(f);
  }
  job j;
  j.fn = fn;
  j.runner = runner;
  j.sink = state;
  j.label = label;
  j.timeout = timeout;
  j.retries = retries;
  try {
    j.payload = std::make_shared<const std::string>(encoder(args));
  } catch (const error& e) {
    state->fail(0, std::make_exception_ptr(
                     error(errc::bad_payload, label.text() + ": its arguments could not be "
                                                "encoded: " + e.what())));
    return future<R>(state);
  } catch (const std::exception& e) {
    state->fail(0, std::make_exception_ptr(
                     error(errc::bad_payload, label.text() + ": its arguments could not be "
                                                "encoded: " + e.what())));
    return future<R>(state);
  }
  std::vector<job> jobs;
  jobs.push_back(std::move(j));
  submit(core, std::move(jobs));
  return future<R>(state);
}

/// Attaches apply_async's callback (and error callback) to `f`: they run
/// on the node's service loop (the pool's supervisor) when the task ends.
template <class R, class Callback, class ErrorCallback>
void add_result_callbacks(future<R>& f, Callback cb, ErrorCallback ecb) {
  f.add_done_callback([cb = std::move(cb), ecb = std::move(ecb)](const future<R>& done) mutable {
    auto e = future_access::state(done)->error();
    if (!e) {
      if constexpr (!std::is_same_v<Callback, std::nullptr_t>) {
        if constexpr (std::is_void_v<R>)
          cb();
        else
          cb(done.get());
      }
      return;
    }
    if constexpr (!std::is_same_v<ErrorCallback, std::nullptr_t>) {
      try {
        std::rethrow_exception(e);
      } catch (const error& err) {
        ecb(err);
      }
    }
  });
}

template <class R, class Callback>
void add_result_callbacks(future<R>& f, Callback cb) {
  add_result_callbacks<R>(f, std::move(cb), nullptr);
}

/// Submits `items` as map chunks of `chunk` items; the future gets the
/// results in item order. Fails the future if an item does not encode.
template <class R, class T>
future<std::vector<stored_t<R>>> submit_chunks(pool_core& core, const T* items, std::size_t n,
                                               std::size_t chunk, const char* kind, any_fn fn,
                                               task_runner runner, progress_fn progress,
                                               duration timeout, int retries) {
  std::vector<std::size_t> sizes;
  for (std::size_t first = 0; first < n; first += chunk)
    sizes.push_back(std::min(chunk, n - first));
  auto state = std::make_shared<map_state<R>>(sizes, std::move(progress));
  future<std::vector<stored_t<R>>> f(state);
  std::vector<job> jobs(sizes.size());
  try {
    for (std::size_t i = 0, first = 0; i < sizes.size(); first += sizes[i], ++i) {
      auto& j = jobs[i];
      j.fn = fn;
      j.runner = runner;
      j.payload = std::make_shared<const std::string>(encode_slice(items + first, sizes[i]));
      j.sink = state;
      j.part = i;
      j.label = {kind, i, first, sizes[i]};
      j.timeout = timeout;
      j.retries = retries;
    }
  } catch (const std::exception& e) {
    state->fail(0, std::make_exception_ptr(error(
                     errc::bad_payload,
                     std::string(kind) + ": an item could not be encoded: " + e.what())));
    return f;
  }
  if (!jobs.empty())
    submit(core, std::move(jobs));
  return f;
}

} // namespace actors::detail
