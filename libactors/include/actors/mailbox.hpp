#pragma once
/// @file mailbox.hpp
/// An actor's mailbox bound (mailbox_options) and what a sender does when it
/// is full (on_full). Set with `.mailbox(...)` on a placement (spawn.hpp).

#include <actors/time.hpp>

#include <cstdint>

namespace actors {

/// What tell and ask do when an actor's bounded mailbox is full.
enum class on_full : std::uint8_t {
  block, ///< wait for room, up to mailbox_options::timeout, then queue_full
  fail,  ///< fail at once with queue_full
};

/// An actor's mailbox bound, chosen when it is spawned, e.g.
/// `spawn<T>(in_new_process.mailbox(1000), ...)`. It travels in the actor's
/// handles, so every sender, in any process, follows it.
/// - `capacity`: how many messages (tells and asks) it may hold; 0, the
///   default, is unbounded.
/// - `when_full`: block (wait up to `timeout`) or fail at once.
/// - A sender that gets no room is told with queue_full: tell throws it,
///   ask's future fails with it, try_tell returns false.
struct mailbox_options {
  std::uint32_t capacity = 0;
  on_full when_full = on_full::block;
  duration timeout = forever;

  bool bounded() const noexcept { return capacity != 0; }

  template <class Archive>
  void serialize(Archive& ar) {
    std::int64_t t = timeout.count();
    ar(capacity, when_full, t);
    timeout = duration(t);
  }
};

} // namespace actors
