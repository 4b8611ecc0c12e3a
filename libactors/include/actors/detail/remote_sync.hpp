#pragma once
// Locks, semaphores and events used from another host of a cluster. Their
// shared memory stays on the host that made them; a handle that crosses
// hosts carries the address of a coordinator actor in the process that sent
// it, and every call becomes an ask to that coordinator, which runs it on
// the real object. Internal; see <actors/sync.hpp> and docs/cluster.md.

#include <actors/detail/serialize.hpp>
#include <actors/detail/shm.hpp>
#include <actors/time.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace actors::detail {

/// What a coordinated object is (the coordinator builds its own handle; a
/// mutex says itself whether it is recursive).
enum class sync_kind : std::uint8_t { mutex, semaphore, event };

/// The calls a far handle makes.
enum class sync_op : std::uint8_t { acquire, release, locked, value, set, clear, is_set, wait };

/// A call's answer: `ok` is acquire's or wait's result (or locked(),
/// is_set()), `owner_died` says a dead holder's lock or permits were taken
/// over, `value` is get_value().
struct sync_answer {
  bool ok = false;
  bool owner_died = false;
  std::uint32_t value = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(ok, owner_died, value);
  }
};

/// A handle's link to the coordinator of its object on another host.
struct far_sync;
/// Lets the coordinator make handles on segments it did not create.
struct sync_access;

/// Runs `op` through the coordinator. Blocks for the round trip (and, for
/// acquire and wait, until the coordinator answers, at most `timeout`).
/// Throws what the object threw there (not_owner, bad_argument), and
/// eof_error once the coordinator's process or host is gone.
sync_answer far_call(const far_sync& f, sync_op op, bool blocking = false,
                     duration timeout = forever);

/// How `f` is written: the coordinator's address and the object's number.
std::string far_bytes(const far_sync& f);
std::shared_ptr<far_sync> far_from_bytes(const std::string& bytes);

/// Makes (once per segment) the coordinator of the object at `offset` of
/// `segment` in this process, and returns how a far handle names it.
std::string coordinate(const std::shared_ptr<shm_segment>& segment, std::size_t offset,
                       sync_kind kind);

/// How a lock, semaphore or event travels: its descriptor on this host;
/// through its coordinator when it crosses hosts (crossing_hosts()) or is
/// already a far handle. Throws export_fd's bad_argument otherwise.
template <class Archive>
void save_sync(Archive& ar, const std::shared_ptr<far_sync>& far,
               const std::shared_ptr<shm_segment>& segment, std::size_t offset, sync_kind kind) {
  bool through_coordinator = far || crossing_hosts();
  ar(through_coordinator);
  if (through_coordinator) {
    ar(far ? far_bytes(*far) : coordinate(segment, offset, kind));
  } else {
    save_segment(ar, segment);
    ar(static_cast<std::uint64_t>(offset));
  }
}

template <class Archive>
void load_sync(Archive& ar, std::shared_ptr<far_sync>& far,
               std::shared_ptr<shm_segment>& segment, std::size_t& offset) {
  bool through_coordinator = false;
  ar(through_coordinator);
  if (through_coordinator) {
    std::string bytes;
    ar(bytes);
    far = far_from_bytes(bytes);
  } else {
    segment = load_segment(ar);
    std::uint64_t at = 0;
    ar(at);
    offset = static_cast<std::size_t>(at);
  }
}

} // namespace actors::detail
