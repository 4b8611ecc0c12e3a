#pragma once
/// @file log.hpp
/// Line logging for multi-process programs, shaped like Python's `logging`:
/// every line carries a time stamp and the process name, and each line leaves
/// in one write(2), so lines from many processes never interleave mid-line.
///
/// @code
/// actors::log::basic_config({"%(asctime)s: %(message)s", "%H:%M:%S"});
/// actors::log::info() << "Main-Process: before creating Process";
/// // 11:11:20: Main-Process: before creating Process
/// @endcode

#include <sstream>
#include <string>
#include <utility>

namespace actors::log {

/// Severity, with Python's numeric values.
enum class level : int { debug = 10, info = 20, warning = 30, error = 40 };

/// How lines look. `format` takes Python's placeholders: %(asctime)s,
/// %(message)s, %(processName)s, %(process)d, %(levelname)s, and %% for a
/// percent sign. `datefmt` is a strftime() format for asctime; empty means
/// Python's default, "2026-11-22 11:11:20,123".
struct config {
  config(std::string format_ = "%(asctime)s [%(processName)s] %(message)s",
         std::string datefmt_ = {}, level threshold_ = level::info)
    : format(std::move(format_)), datefmt(std::move(datefmt_)), threshold(threshold_) {}

  std::string format;
  std::string datefmt;
  level threshold;
};

/// Replaces the configuration of this process; children started afterwards
/// inherit it. Throws actors::error(errc::bad_argument) on an unknown
/// placeholder. Thread-safe.
void basic_config(config c);

/// The configuration in force.
config current_config();

/// One log line. Stream into it; it is written (to stderr) when it is
/// destroyed, at the end of the full expression. Never throws from its
/// destructor. Lines below the threshold cost no formatting.
class line {
public:
  explicit line(level lvl);
  line(const line&) = delete;
  line& operator=(const line&) = delete;
  ~line();

  template <class T>
  line& operator<<(const T& value) {
    if (enabled_)
      out_ << value;
    return *this;
  }

private:
  level level_;
  bool enabled_;
  std::ostringstream out_;
};

inline line debug() { return line(level::debug); }
inline line info() { return line(level::info); }
inline line warning() { return line(level::warning); }
inline line error() { return line(level::error); }

/// Formats one line as the configuration says (without a trailing newline).
/// Exposed for tests.
std::string format_line(level lvl, const std::string& message);

} // namespace actors::log
