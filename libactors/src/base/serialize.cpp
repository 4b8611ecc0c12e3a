#include <actors/detail/serialize.hpp>
#include <actors/errors.hpp>

namespace actors::detail {

std::vector<int>*& outgoing_fds() noexcept {
  thread_local std::vector<int>* fds = nullptr;
  return fds;
}

std::vector<int>*& incoming_fds() noexcept {
  thread_local std::vector<int>* fds = nullptr;
  return fds;
}

bool& crossing_hosts() noexcept {
  thread_local bool flag = false;
  return flag;
}

bool& decoding() noexcept {
  thread_local bool flag = false;
  return flag;
}

void forget_codec_state_after_fork() noexcept {
  outgoing_fds() = nullptr;
  incoming_fds() = nullptr;
  decoding() = false;
  crossing_hosts() = false;
}

void throw_bad_payload(const char* what_failed) {
  throw error(errc::bad_payload,
              std::string("cannot decode a payload: ") + what_failed
                + " (do the serialize functions on both sides match?)");
}

} // namespace actors::detail
