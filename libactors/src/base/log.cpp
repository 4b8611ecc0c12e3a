#include <actors/errors.hpp>
#include <actors/log.hpp>

#include "base/fd.hpp"
#include "base/log.hpp"

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <unistd.h>

namespace actors::log {

namespace {

std::mutex config_mtx;
config the_config;

const char* level_name(level lvl) {
  switch (lvl) {
    case level::debug:
      return "DEBUG";
    case level::info:
      return "INFO";
    case level::warning:
      return "WARNING";
    case level::error:
      return "ERROR";
  }
  return "LEVEL";
}

std::string asctime(const std::string& datefmt) {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[128];
  auto n = std::strftime(buf, sizeof buf,
                         datefmt.empty() ? "%Y-%m-%d %H:%M:%S" : datefmt.c_str(), &tm);
  std::string out(buf, n);
  if (datefmt.empty()) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch())
                .count()
              % 1000;
    char frac[8];
    std::snprintf(frac, sizeof frac, ",%03d", static_cast<int>(ms));
    out += frac;
  }
  return out;
}

// Set by the runtime (runtime/node.cpp): this layer knows no process.
std::atomic<std::string (*)()> name_source{nullptr};

std::string process_name() {
  auto* source = name_source.load(std::memory_order_acquire);
  return source ? source() : "MainProcess";
}

// Expands the placeholders of `format`; with `check` set, throws on an unknown
// one instead of copying it.
std::string expand(const config& c, level lvl, const std::string& message, bool check) {
  static const char* const names[]
    = {"%(asctime)s", "%(message)s", "%(processName)s", "%(process)d", "%(levelname)s"};
  std::string out;
  const auto& f = c.format;
  for (std::size_t i = 0; i < f.size();) {
    if (f[i] != '%') {
      out += f[i++];
      continue;
    }
    if (f.compare(i, 2, "%%") == 0) {
      out += '%';
      i += 2;
      continue;
    }
    int which = -1;
    for (int k = 0; k < 5; ++k)
      if (f.compare(i, std::char_traits<char>::length(names[k]), names[k]) == 0)
        which = k;
    if (which < 0) {
      if (check)
        throw actors::error(errc::bad_argument,
                            "log format: unknown placeholder at \"" + f.substr(i, 16)
                              + "\"; use %(asctime)s, %(message)s, %(processName)s, "
                                "%(process)d, %(levelname)s or %%");
      out += f[i++];
      continue;
    }
    switch (which) {
      case 0:
        out += asctime(c.datefmt);
        break;
      case 1:
        out += message;
        break;
      case 2:
        out += process_name();
        break;
      case 3:
        out += std::to_string(::getpid());
        break;
      case 4:
        out += level_name(lvl);
        break;
    }
    i += std::char_traits<char>::length(names[which]);
  }
  return out;
}

} // namespace

void basic_config(config c) {
  expand(c, level::info, "", true);
  std::lock_guard<std::mutex> guard(config_mtx);
  the_config = std::move(c);
}

config current_config() {
  std::lock_guard<std::mutex> guard(config_mtx);
  return the_config;
}

std::string format_line(level lvl, const std::string& message) {
  return expand(current_config(), lvl, message, false);
}

line::line(level lvl)
  : level_(lvl), enabled_(static_cast<int>(lvl) >= static_cast<int>(current_config().threshold)) {}

line::~line() {
  if (!enabled_)
    return;
  try {
    auto text = format_line(level_, out_.str());
    text += '\n';
    // One write(2) per line: lines from many processes never interleave.
    detail::write_all(STDERR_FILENO, text.data(), text.size());
  } catch (...) {
  }
}

} // namespace actors::log

namespace actors::detail {

void set_log_process_name(std::string (*source)()) noexcept {
  log::name_source.store(source, std::memory_order_release);
}

} // namespace actors::detail
