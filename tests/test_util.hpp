#pragma once
// Small helpers for tests that cross processes.

#include <actors/errors.hpp>
#include <actors/process.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>

namespace test_util {

/// A fresh directory under /tmp, removed when the object goes away.
class temp_dir {
public:
  temp_dir() {
    char tmpl[] = "/tmp/actors-test-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::string cmd = "rm -rf '" + path_ + "'";
    (void) !std::system(cmd.c_str());
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

private:
  std::string path_;
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

/// Redirects this process's stderr (fd 2) to a file while alive.
class capture_stderr {
public:
  explicit capture_stderr(const std::string& path) : saved_(::dup(2)) {
    std::fflush(stderr);
    auto* f = std::fopen(path.c_str(), "w");
    ::dup2(::fileno(f), 2);
    std::fclose(f);
  }
  ~capture_stderr() {
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
  }

private:
  int saved_;
};

/// The errc an actors::error thrown by `f` carries; errc::none if none.
template <class F>
actors::errc error_of(F&& f) {
  try {
    f();
  } catch (const actors::error& e) {
    return e.value();
  }
  return actors::errc::none;
}

/// Every start method, for INSTANTIATE_TEST_SUITE_P, with readable names.
inline auto all_start_methods() {
  return ::testing::Values(actors::start_method::forkserver, actors::start_method::spawn,
                           actors::start_method::fork);
}

inline std::string method_name(const ::testing::TestParamInfo<actors::start_method>& info) {
  return actors::to_string(info.param);
}

/// True while `pid` runs (a zombie does not count).
/// Waits until `pred` holds, up to `limit`.
template <class F>
bool eventually(F pred, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return pred();
}

inline bool alive(int pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

/// Gives the running test `seconds` from now instead of the driver's limit
/// of 60 s per test (tests/main.cpp): for the few that move a gibibyte,
/// which take over 40 s under the sanitizers on a busy machine.
inline void allow_seconds(unsigned seconds) {
  ::alarm(seconds);
}

// What `x` prints with operator<<.
template <class T>
std::string printed(const T& x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// How many descriptors this process has open.
inline int open_fds() {
  int n = 0;
  for (int fd = 0; fd < 4096; ++fd)
    if (::fcntl(fd, F_GETFD) != -1)
      ++n;
  return n;
}

/// While it lives, SIGUSR1 hits the thread that made it every `every`, with
/// a handler installed without SA_RESTART, so each blocking call of that
/// thread sees EINTR again and again.
class signal_storm {
public:
  explicit signal_storm(std::chrono::microseconds every) {
    struct sigaction sa {};
    sa.sa_handler = [](int) {};
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART
    ::sigaction(SIGUSR1, &sa, &old_);
    auto target = ::pthread_self();
    thread_ = std::thread([this, target, every] {
      while (!stop_.load()) {
        ::pthread_kill(target, SIGUSR1);
        std::this_thread::sleep_for(every);
      }
    });
  }
  ~signal_storm() {
    stop_ = true;
    thread_.join();
    ::sigaction(SIGUSR1, &old_, nullptr);
  }
  signal_storm(const signal_storm&) = delete;
  signal_storm& operator=(const signal_storm&) = delete;

private:
  struct sigaction old_ {};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace test_util
