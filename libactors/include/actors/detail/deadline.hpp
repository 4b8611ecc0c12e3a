#pragma once
// Deadlines: the one policy for every wait of the library. A timeout is a
// duration; a wait turns it into a point in time once (deadline_in), so a
// call that waits several times waits no longer in all. A wait that must
// also notice what no wake-up reports (a process that died, a SIGINT, a
// connection closed by another thread) sleeps in slices of at most
// recheck_slice (next_slice) and looks again after each.

#include <actors/time.hpp>

#include <chrono>

namespace actors::detail {

using steady_time = std::chrono::steady_clock::time_point;

/// The longest a re-checking wait sleeps before it looks again.
inline constexpr std::chrono::milliseconds recheck_slice{100};

/// A deadline `timeout` from now: time_point::max() for forever (and for
/// timeouts past a century); now for a negative timeout.
steady_time deadline_in(duration timeout) noexcept;

/// The time left until `deadline`: forever for time_point::max(), zero once
/// it has passed.
duration left_until(steady_time deadline) noexcept;

/// How long a re-checking wait sleeps next: at most `slice`, never past
/// `deadline`, never negative.
std::chrono::steady_clock::duration next_slice(
  steady_time deadline, std::chrono::steady_clock::duration slice = recheck_slice) noexcept;

} // namespace actors::detail
