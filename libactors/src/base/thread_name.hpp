#pragma once
// Names the library's own threads, so `top -H`, gdb and /proc/<pid>/task
// tell them from the user's and from CAF's ("actors.in", "actors.queue"...).

#include <pthread.h>

namespace actors::detail {

/// Names the calling thread (at most 15 characters are kept). Never fails.
inline void name_this_thread(const char* name) noexcept {
  (void) ::pthread_setname_np(::pthread_self(), name);
}

} // namespace actors::detail
