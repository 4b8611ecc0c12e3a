#pragma once
// The log's one need from the layers above it. Never installed.

#include <string>

namespace actors::detail {

/// Installs what %(processName)s shows: a function returning the current
/// process's name (the runtime sets it; until then, "MainProcess"). It must
/// not throw.
void set_log_process_name(std::string (*source)()) noexcept;

} // namespace actors::detail
