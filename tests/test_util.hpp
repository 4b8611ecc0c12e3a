#pragma once
// Small helpers for tests that cross processes.

#include <actors/errors.hpp>
#include <actors/process.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
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
inline bool alive(int pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace test_util
