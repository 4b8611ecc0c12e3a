#pragma once
/// @file imap.hpp
/// `actors::imap_result<R>`: the lazy results of pool::imap and
/// pool::imap_unordered (and of the executor's map), read with next() or a
/// range-for loop. The input is read as results are consumed, so an endless
/// range or a generator works, with a bounded number of chunks in flight.
///
/// @code
/// for (int r : pool.imap(square, std::vector<int>{1, 2, 3}))
///   std::cout << r << '\n';                 // 1 4 9
/// @endcode

#include <actors/detail/pool_core.hpp>
#include <actors/errors.hpp>
#include <actors/future.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace actors {

class pool;

namespace detail {

/// The shared side of an imap: chunks come back here; the caller's thread
/// reads them, and tops up the chunks in flight from the input.
template <class R>
class imap_state : public job_sink {
public:
  using item_t = stored_t<R>;
  bool claim(std::size_t) override { return true; }
  void deliver(std::size_t part, const char* data, std::size_t size) override {
    auto items = decode<std::vector<item_t>>(data, size);
    std::lock_guard<std::mutex> lock(mtx);
    ready.emplace(part, std::move(items));
    order.push_back(part);
    cv.notify_all();
  }
  void fail(std::size_t part, std::exception_ptr e) override {
    std::lock_guard<std::mutex> lock(mtx);
    ready.emplace(part, e);
    order.push_back(part);
    cv.notify_all();
  }

  std::mutex mtx;
  std::condition_variable cv;
  std::map<std::size_t, std::variant<std::vector<item_t>, std::exception_ptr>> ready;
  std::deque<std::size_t> order; // parts in the order they finished
};

} // namespace detail

/// The lazy result of imap/imap_unordered: `next()` or a range-for loop.
template <class R>
class imap_result {
public:
  using item_t = detail::stored_t<R>;

  /// The next result, or nullopt at the end. Throws timeout_error after
  /// `timeout` (the result is still returned by a later call), the task's
  /// error for a chunk that failed (iteration may go on after it), and
  /// keyboard_interrupt. If reading the input threw, the results of the
  /// items before it come first, then next() throws that exception once,
  /// then the iteration ends (as in Python).
  std::optional<item_t> next(duration timeout = forever) {
    auto deadline = std::min(detail::deadline_in(timeout), deadline_);
    for (;;) {
      if (pos_ < current_.size())
        return std::move(current_[pos_++]);
      top_up();
      if (consumed_ == submitted_ && exhausted_) {
        if (input_error_)
          std::rethrow_exception(std::exchange(input_error_, nullptr));
        return std::nullopt;
      }
      std::unique_lock<std::mutex> lock(state_->mtx);
      auto available = [&] {
        return ordered_ ? state_->ready.count(consumed_) > 0 : !state_->order.empty();
      };
      if (!detail::wait_interruptibly(lock, state_->cv, deadline, available))
        throw timeout_error("imap: the next result is not ready yet");
      std::size_t part;
      if (ordered_) {
        part = consumed_;
      } else {
        part = state_->order.front();
      }
      state_->order.erase(std::find(state_->order.begin(), state_->order.end(), part));
      auto node = state_->ready.extract(part);
      lock.unlock();
      ++consumed_;
      pos_ = 0;
      if (auto* e = std::get_if<std::exception_ptr>(&node.mapped())) {
        current_.clear();
        std::rethrow_exception(*e);
      }
      current_ = std::move(std::get<0>(node.mapped()));
    }
  }

  /// From now on next() throws timeout_error once `deadline` has passed
  /// (the executor's map(timeout)).
  void set_deadline(std::chrono::steady_clock::time_point deadline) { deadline_ = deadline; }

  class iterator {
  public:
    using value_type = item_t;
    using difference_type = std::ptrdiff_t;
    using iterator_category = std::input_iterator_tag;
    using pointer = item_t*;
    using reference = item_t&;
    iterator() = default;
    explicit iterator(imap_result* owner) : owner_(owner) { ++*this; }
    item_t& operator*() { return *value_; }
    item_t* operator->() { return &*value_; }
    iterator& operator++() {
      value_ = owner_->next();
      if (!value_)
        owner_ = nullptr;
      return *this;
    }
    bool operator==(const iterator& o) const { return owner_ == o.owner_; }
    bool operator!=(const iterator& o) const { return owner_ != o.owner_; }

  private:
    imap_result* owner_ = nullptr;
    std::optional<item_t> value_;
  };
  iterator begin() { return iterator(this); }
  iterator end() { return iterator(); }

private:
  friend class pool;
  // The next chunk's encoded items, and where they start in the input and
  // how many there are; nullopt at the end of the input.
  using chunk_source = std::function<std::optional<std::string>(std::uint64_t& first,
                                                                std::uint64_t& count)>;
  imap_result(std::shared_ptr<detail::pool_core> core, chunk_source source, detail::any_fn fn,
              detail::task_runner runner, const char* kind, bool ordered, std::size_t window,
              duration timeout, int retries)
    : core_(std::move(core)), source_(std::move(source)), fn_(fn), runner_(runner), kind_(kind),
      ordered_(ordered), window_(window), timeout_(timeout), retries_(retries),
      state_(std::make_shared<detail::imap_state<R>>()) {
    top_up();
  }

  void top_up() {
    std::vector<detail::job> jobs;
    while (!exhausted_ && submitted_ + jobs.size() - consumed_ < window_) {
      std::uint64_t first = 0, count = 0;
      std::optional<std::string> payload;
      try {
        payload = source_(first, count);
      } catch (...) {
        // The input threw: next() throws it after the results before it.
        input_error_ = std::current_exception();
      }
      if (!payload) {
        exhausted_ = true;
        break;
      }
      detail::job j;
      j.fn = fn_;
      j.runner = runner_;
      j.payload = std::make_shared<const std::string>(std::move(*payload));
      j.sink = state_;
      j.part = submitted_ + jobs.size();
      j.label = {kind_, j.part, first, count};
      j.timeout = timeout_;
      j.retries = retries_;
      jobs.push_back(std::move(j));
    }
    submitted_ += jobs.size();
    if (!jobs.empty())
      detail::submit(*core_, std::move(jobs));
  }

  std::shared_ptr<detail::pool_core> core_;
  chunk_source source_;
  detail::any_fn fn_;
  detail::task_runner runner_;
  const char* kind_;
  bool ordered_;
  std::size_t window_;
  duration timeout_;
  int retries_;
  std::shared_ptr<detail::imap_state<R>> state_;
  std::uint64_t submitted_ = 0, consumed_ = 0;
  bool exhausted_ = false;
  std::exception_ptr input_error_; // what reading the input threw, for next()
  std::vector<item_t> current_;
  std::size_t pos_ = 0;
  std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::time_point::max();
};

namespace detail {

template <class G, class = void>
struct is_generator : std::false_type {};
template <class G>
struct is_generator<G, std::void_t<decltype(std::declval<G&>()().has_value())>>
  : std::true_type {};

/// Pulls items from a range or a generator, one at a time. An lvalue range
/// is referred to; an rvalue one is owned.
template <class P, class Range,
          bool Generator = is_generator<std::remove_reference_t<Range>>::value>
class item_source {
public:
  explicit item_source(Range&& r) : range_(std::forward<Range>(r)) {}
  std::optional<P> pull() {
    if (!it_)
      it_.emplace(std::begin(range_));
    if (*it_ == std::end(range_))
      return std::nullopt;
    P v(**it_);
    ++*it_;
    return v;
  }

private:
  Range range_;
  std::optional<decltype(std::begin(std::declval<std::remove_reference_t<Range>&>()))> it_;
};

/// Python's zip() as a generator: tuples of the ranges' items side by side,
/// ending with the shortest range. An lvalue range is referred to; an rvalue
/// one is owned.
template <class... Ranges>
class zip_generator {
  template <class R>
  using iterator_of = decltype(std::begin(std::declval<std::remove_reference_t<R>&>()));

public:
  explicit zip_generator(Ranges&&... ranges) : ranges_(std::forward<Ranges>(ranges)...) {}
  auto operator()() { return next(std::index_sequence_for<Ranges...>{}); }

private:
  template <std::size_t... I>
  std::optional<std::tuple<std::decay_t<decltype(*std::declval<iterator_of<Ranges>&>())>...>>
  next(std::index_sequence<I...>) {
    if (!its_)
      its_.emplace(std::begin(std::get<I>(ranges_))...);
    if (((std::get<I>(*its_) == std::end(std::get<I>(ranges_))) || ...))
      return std::nullopt;
    std::tuple<std::decay_t<decltype(*std::declval<iterator_of<Ranges>&>())>...> items(
      *std::get<I>(*its_)...);
    (++std::get<I>(*its_), ...);
    return items;
  }

  std::tuple<Ranges...> ranges_;
  std::optional<std::tuple<iterator_of<Ranges>...>> its_;
};

template <class T, class = void>
struct is_range : std::false_type {};
template <class T>
struct is_range<T, std::void_t<decltype(std::begin(std::declval<T&>()))>> : std::true_type {};

/// How many of Ts, from the first, are ranges.
template <class... Ts>
constexpr std::size_t leading_ranges() {
  constexpr bool range[] = {is_range<std::remove_reference_t<Ts>>::value..., false};
  std::size_t n = 0;
  while (range[n])
    ++n;
  return n;
}

template <class P, class Generator>
class item_source<P, Generator, true> {
public:
  explicit item_source(Generator&& g) : gen_(std::forward<Generator>(g)) {}
  std::optional<P> pull() {
    auto v = gen_();
    if (!v)
      return std::nullopt;
    return P(std::move(*v));
  }

private:
  Generator gen_;
};

} // namespace detail

} // namespace actors
