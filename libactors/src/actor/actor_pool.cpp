// What actor pools and supervisors name: the words of their strategies and
// restart kinds, and the small helpers actor_pool.hpp's templates call.

#include <actors/actor_pool.hpp>
#include <actors/supervisor.hpp>

#include <atomic>

namespace actors::detail {

int next_pool_number() noexcept {
  static std::atomic<int> n{0};
  return ++n;
}

bool is_actor_died(const std::exception_ptr& e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const actor_died&) {
    return true;
  } catch (...) {
    return false;
  }
}

} // namespace actors::detail

namespace actors {

const char* to_string(strategy s) noexcept {
  switch (s) {
    case strategy::one_for_one:
      return "one_for_one";
    case strategy::one_for_all:
      return "one_for_all";
    case strategy::rest_for_one:
      return "rest_for_one";
  }
  return "?";
}

const char* to_string(restart r) noexcept {
  switch (r) {
    case restart::permanent:
      return "permanent";
    case restart::transient:
      return "transient";
    case restart::temporary:
      return "temporary";
  }
  return "?";
}

} // namespace actors
