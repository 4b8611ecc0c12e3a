// The deadline policy: see actors/detail/deadline.hpp.

#include <actors/detail/deadline.hpp>

#include <algorithm>

namespace actors::detail {

steady_time deadline_in(duration timeout) noexcept {
  auto now = std::chrono::steady_clock::now();
  if (timeout == forever || timeout > std::chrono::hours(24 * 365 * 100))
    return steady_time::max();
  return now + std::max(timeout, duration::zero());
}

duration left_until(steady_time deadline) noexcept {
  if (deadline == steady_time::max())
    return forever;
  auto now = std::chrono::steady_clock::now();
  return deadline > now ? std::chrono::duration_cast<duration>(deadline - now) : duration::zero();
}

std::chrono::steady_clock::duration next_slice(steady_time deadline,
                                               std::chrono::steady_clock::duration slice) noexcept {
  if (deadline == steady_time::max())
    return slice;
  auto now = std::chrono::steady_clock::now();
  if (deadline <= now)
    return std::chrono::steady_clock::duration::zero();
  return std::min<std::chrono::steady_clock::duration>(deadline - now, slice);
}

} // namespace actors::detail
