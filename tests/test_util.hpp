#pragma once
// Small helpers for tests that cross processes.

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

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace test_util
