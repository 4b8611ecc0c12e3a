#pragma once
// What a pool's supervisor and its workers share. Never installed.
//
// Wire (frames, io/frame.hpp; first payload byte is the operation):
//   supervisor -> worker                    worker -> supervisor
//   def  u32 index, code_location           result u64 id, u64 ns, bytes
//   task u64 id, u32 runner, u32 fn, bytes  error  u64 id, u8 phase, (type, what)
//                                           init_failed (type, what)

#include <actors/detail/pool_core.hpp>
#include <actors/detail/serialize.hpp>
#include <actors/detail/shm.hpp>
#include <actors/detail/target.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace actors::detail {

// The first payload byte of each frame, as queue_wire::op and actor_wire::op
// are for theirs.
namespace pool_wire {
enum op : std::uint8_t {
  op_def = 1,
  op_task = 2,
  op_result = 3,
  op_error = 4,
  op_init_failed = 5,
};
} // namespace pool_wire

using clock = std::chrono::steady_clock;

// A descriptor argument of the worker target.
struct fd_arg {
  int fd = -1;
  template <class Archive>
  void save(Archive& ar) const {
    ar(export_fd(fd));
  }
  template <class Archive>
  void load(Archive& ar) {
    std::uint32_t index = 0;
    ar(index);
    fd = import_fd(index);
  }
};

/// What a worker process is started with.
struct worker_boot {
  fd_arg sock;
  std::shared_ptr<shm_segment> slots;
  std::uint32_t slot = 0;
  std::uint64_t maxtasks = 0;
  bool has_init = false;
  code_location init_trampoline, init_target;
  std::string init_payload;
  std::vector<fd_arg> init_fds;

  template <class Archive>
  void save(Archive& ar) const {
    ar(sock);
    save_segment(ar, slots);
    ar(slot, maxtasks, has_init, init_trampoline, init_target, init_payload, init_fds);
  }
  template <class Archive>
  void load(Archive& ar) {
    ar(sock);
    slots = load_segment<Archive>(ar);
    ar(slot, maxtasks, has_init, init_trampoline, init_target, init_payload, init_fds);
  }
};

/// A worker process: runs the initializer, then tasks until its socket
/// closes or it reaches maxtasks.
void pool_worker(worker_boot boot);

} // namespace actors::detail
