#pragma once
/// @file time.hpp
/// Timeouts. Every timeout in libactors is a std::chrono duration; `forever`
/// is the one sentinel for "no time limit". Raw integer seconds are never
/// taken.

#include <chrono>

namespace actors {

/// The duration type every libactors timeout converts to. Any coarser
/// std::chrono duration (1s, 250ms, ...) converts implicitly.
using duration = std::chrono::nanoseconds;

/// "Wait without a time limit."
inline constexpr duration forever = duration::max();

} // namespace actors
