#pragma once
// SIGINT as Python's KeyboardInterrupt: waiting calls wait in slices and
// throw actors::keyboard_interrupt when it arrives.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>

namespace actors::detail {

/// Waits on `cv` until `done()` or `deadline`, in slices, so that SIGINT
/// (see keyboard_interrupt) is noticed within 100 ms. Returns done(). Throws
/// keyboard_interrupt for a SIGINT that arrived while it waited, even if
/// done() became true in the same moment (it is never lost).
bool wait_interruptibly(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                        std::chrono::steady_clock::time_point deadline,
                        const std::function<bool()>& done);

/// Makes SIGINT interrupt waiting pool calls (once per process, and only if
/// SIGINT has its default action).
void catch_sigint() noexcept;

} // namespace actors::detail
