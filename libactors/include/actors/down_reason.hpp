#pragma once
/// @file down_reason.hpp
/// Why an actor stopped (down_reason), as monitors, links and supervisors
/// see it, and actor_died, the error an ask to a gone actor fails with.
/// - Thread-safe: plain values.

#include <actors/errors.hpp>

#include <cstdint>
#include <string>

namespace actors {

/// Why an actor stopped: what a monitor reports and what actor_died carries.
struct down_reason {
  enum class kind : std::uint8_t {
    normal = 0,    ///< it stopped itself (self().stop()) or its node stopped
    exception = 1, ///< a method it ran for a tell threw; `message` has the text
    signal = 2,    ///< its process was killed by `signal`
    exited = 3,    ///< its process exited with `exitcode` (its node gone)
    unreachable = 4, ///< its node stopped answering or closed the connection
    no_such_actor = 5, ///< it had stopped before it was asked or watched
    linked = 6,    ///< an actor linked to it died; `message` says which and why
  };
  kind what = kind::normal;
  int signal = 0;
  int exitcode = 0;
  std::string message;

  /// "killed by signal 9", "exception std::runtime_error: boom", ...
  std::string describe() const;
  bool normal() const noexcept { return what == kind::normal; }

  template <class Archive>
  void serialize(Archive& ar) {
    ar(what, signal, exitcode, message);
  }
};

/// A method was called on an actor that is gone; `reason()` says why it
/// stopped. Asks fail with it; it is never thrown by tell.
class actor_died : public error {
public:
  actor_died(std::string actor, down_reason reason);
  const std::string& actor() const noexcept { return actor_; }
  const down_reason& reason() const noexcept { return reason_; }

private:
  std::string actor_;
  down_reason reason_;
};

} // namespace actors
