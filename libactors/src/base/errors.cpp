#include <actors/errors.hpp>

#include <cstring>

namespace actors {

namespace {

class category final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "actors";
  }

  std::string message(int value) const override {
    switch (static_cast<errc>(value)) {
      case errc::none:
        return "no error";
      case errc::no_node:
        return "no libactors node is running in this process";
      case errc::node_exists:
        return "a libactors node is already running in this process";
      case errc::bad_argument:
        return "bad argument";
      case errc::already_started:
        return "the process was already started";
      case errc::not_started:
        return "the process was not started";
      case errc::join_self:
        return "a process cannot join itself";
      case errc::not_a_child:
        return "not a child of this process";
      case errc::closed:
        return "the object is closed";
      case errc::still_running:
        return "the process is still running";
      case errc::target_not_found:
        return "the target cannot be found in the child";
      case errc::bad_payload:
        return "a payload did not decode";
      case errc::timeout:
        return "timed out";
      case errc::eof:
        return "the other end is closed";
      case errc::broken_pipe:
        return "broken pipe: the other end is gone";
      case errc::bad_frame:
        return "malformed or oversized frame";
      case errc::frame_too_large:
        return "message over the frame size cap";
      case errc::queue_full:
        return "the queue is full";
      case errc::queue_empty:
        return "the queue is empty";
      case errc::queue_shut_down:
        return "the queue was shut down";
      case errc::consumer_died:
        return "a consumer died holding unfinished items";
      case errc::not_owner:
        return "the lock is not held by this thread";
      case errc::broken_barrier:
        return "the barrier is broken";
      case errc::remote_error:
        return "a task raised an exception in a worker";
      case errc::worker_died:
        return "the worker running the task died";
      case errc::cancelled:
        return "the task was cancelled";
      case errc::interrupted:
        return "interrupted by SIGINT";
      case errc::key_error:
        return "no such key or index";
      case errc::system_error:
        return "an operating-system call failed";
      case errc::actor_died:
        return "the actor is gone";
      case errc::buffer_too_short:
        return "the message does not fit the buffer";
      case errc::auth_failed:
        return "authentication failed: the authkeys differ";
      case errc::message_too_long:
        return "the message is longer than maxlength";
      case errc::cluster_refused:
        return "cluster link refused";
      case errc::host_unreachable:
        return "host unreachable";
      case errc::restart_limit:
        return "a supervisor reached its restart limit";
    }
    return "unknown actors error " + std::to_string(value);
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const category instance;
  return instance;
}

error::error(errc code, const std::string& message)
  : std::runtime_error(message), code_(code) {}

remote_error::remote_error(std::string type_name, std::string message, int pid, std::string task)
  : error(errc::remote_error, task + " raised " + type_name + " in worker pid "
                                + std::to_string(pid) + (message.empty() ? "" : ": " + message)),
    type_name_(std::move(type_name)), message_(std::move(message)), task_(std::move(task)),
    pid_(pid) {}

namespace {
std::string death_message(int pid, int signal, int exitcode, const std::string& task) {
  std::string how = signal > 0 ? "was killed by signal " + std::to_string(signal) + " ("
                                   + ::strsignal(signal) + ")"
                               : "exited with code " + std::to_string(exitcode);
  return "worker pid " + std::to_string(pid) + " " + how + " while running " + task
         + "; a new worker replaced it";
}
} // namespace

worker_died::worker_died(int pid, int signal, int exitcode, std::string task)
  : error(errc::worker_died, death_message(pid, signal, exitcode, task)), pid_(pid),
    signal_(signal), exitcode_(exitcode), task_(std::move(task)) {}


} // namespace actors
