// A pool's worker process: runs the initializer, then its supervisor's tasks
// (wire: pool/protocol.hpp).

#include <actors/detail/pool_core.hpp>
#include <actors/detail/queue_client.hpp>
#include <actors/detail/shm.hpp>
#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/fd.hpp"
#include "io/frame.hpp"
#include "io/wire.hpp"
#include "pool/protocol.hpp"
#include "runtime/runtime.hpp"
#include "runtime/stats.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

namespace actors::detail {

using namespace pool_wire;

namespace {

std::string encode_exception() {
  auto [type, message] = current_exception_info();
  return encode(std::make_pair(type, message));
}

std::string missing_code(const code_location& where) {
  char offset[32];
  std::snprintf(offset, sizeof offset, "%llx", static_cast<unsigned long long>(where.offset));
  return (where.module.empty() ? std::string("the program") : where.module) + " +0x" + offset
         + " is not loaded in the worker (a library dlopen'ed after the node started is not "
           "in forkserver or spawn workers; link it, or use start_method::fork)";
}

} // namespace

/// A worker process: runs the initializer, then tasks until its socket
/// closes or it reaches maxtasks.
void pool_worker(worker_boot boot) {
  ::signal(SIGINT, SIG_IGN); // Ctrl-C is the parent's to handle; it stops us
  unique_fd sock(boot.sock.fd);
  auto* slot = reinterpret_cast<std::atomic<std::uint64_t>*>(boot.slots->data()) + boot.slot;
  outbox out;
  if (boot.has_init) {
    auto trampoline = reinterpret_cast<trampoline_fn>(resolve(boot.init_trampoline));
    auto target = resolve(boot.init_target);
    try {
      if (!trampoline || !target)
        throw error(errc::target_not_found,
                    "the initializer cannot be found: "
                      + missing_code(trampoline ? boot.init_target : boot.init_trampoline));
      std::vector<int> fds;
      for (auto& f : boot.init_fds)
        fds.push_back(f.fd);
      trampoline(target, boot.init_payload, &fds);
    } catch (...) {
      out.frame(op_init_failed, {}, encode_exception());
      out.send(sock.get());
      throw system_exit(1);
    }
  }
  std::vector<any_fn> table; // code the supervisor defined, by index
  inbuf in;
  std::uint64_t done = 0;
  auto last_flush = clock::now();
  for (;;) {
    bool quit = false;
    bool ok = each_frame(in, [&](const char* p, std::size_t size) {
      const char* end = p + size;
      auto code = static_cast<op>(*p++);
      if (code == op_def && end - p >= 4) {
        auto index = take<std::uint32_t>(p);
        auto where = decode<code_location>(p, static_cast<std::size_t>(end - p));
        if (table.size() <= index)
          table.resize(index + 1);
        table[index] = resolve(where);
        if (!table[index])
          log::warning() << "pool worker: " << missing_code(where);
        return true;
      }
      if (code != op_task || end - p < 16)
        return false;
      auto id = take<std::uint64_t>(p);
      auto runner_index = take<std::uint32_t>(p);
      auto fn_index = take<std::uint32_t>(p);
      slot->store(id, std::memory_order_release);
      auto start = clock::now();
      std::string head;
      put(head, id);
      current_phase() = task_phase::decoding; // a missing function fails before decoding
      try {
        auto runner = runner_index < table.size()
                        ? reinterpret_cast<task_runner>(table[runner_index]) : nullptr;
        auto fn = fn_index < table.size() ? table[fn_index] : nullptr;
        if (!runner || !fn)
          throw error(errc::target_not_found,
                      "the task's function is not loaded in this worker (see the warning "
                      "above)");
        auto result = runner(fn, p, static_cast<std::size_t>(end - p));
        put(head, static_cast<std::uint64_t>((clock::now() - start).count()));
        out.frame(op_result, head, std::move(result));
      } catch (...) {
        head += static_cast<char>(current_phase());
        out.frame(op_error, head, encode_exception());
      }
      slot->store(0, std::memory_order_release);
      ++done;
      auto now = clock::now();
      if (out.bytes() > 256 * 1024 || now - last_flush > std::chrono::milliseconds(2)) {
        if (!out.send(sock.get()))
          throw system_exit(0); // the pool is gone
        last_flush = now;
      }
      if (boot.maxtasks > 0 && done >= boot.maxtasks) {
        quit = true;
        return false;
      }
      return true;
    });
    if (!out.empty()) { // about to wait for more work: send what is done
      if (!out.send(sock.get()))
        return;
      last_flush = clock::now();
    }
    if (quit)
      return;
    if (!ok) {
      log::error() << "pool worker: a malformed frame from the supervisor; exiting";
      throw system_exit(1);
    }
    if (!in.read_from(sock.get()))
      return; // the pool closed us: exit normally
  }
}

} // namespace actors::detail
