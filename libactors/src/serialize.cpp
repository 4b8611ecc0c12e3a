#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>

namespace actors::detail {

thread_local std::vector<int>* outgoing_fds = nullptr;
thread_local std::vector<int>* incoming_fds = nullptr;

void throw_bad_payload(const char* what_failed) {
  throw error(errc::bad_payload,
              std::string("cannot decode a payload: ") + what_failed
                + " (do the serialize functions on both sides match?)");
}

} // namespace actors::detail
