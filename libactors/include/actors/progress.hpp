#pragma once
// actors::progress_info: what a progress callback of a map receives.

#include <cstdint>

namespace actors {

/// Progress of one map, imap or starmap, as a progress callback receives it
/// (task_options::progress; actors::progress_bar() draws it). Calls come at
/// most 10 times a second, and once more when the last item is done.
struct progress_info {
  std::uint64_t done = 0;  ///< Items finished so far.
  std::uint64_t total = 0; ///< Items in all; 0 when unknown (imap over an endless range).
  double elapsed = 0;      ///< Seconds since the map started.
  double rate = 0;         ///< Items per second so far.
  double eta = -1;         ///< Seconds left at that rate, or -1 when unknown.
};

} // namespace actors
