#pragma once
// Deadlines: every timeout is a duration; a wait turns it into a point in
// time once, so a call that waits several times waits no longer in all.

#include <actors/time.hpp>

#include <chrono>

namespace actors::detail {

/// A deadline `timeout` from now (max for forever).
std::chrono::steady_clock::time_point deadline_in(duration timeout) noexcept;

} // namespace actors::detail
