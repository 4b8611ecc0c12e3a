#pragma once
// The manager's wire, shared by its server (manager/server.cpp) and its
// proxies' calls (manager/client.cpp). Frames; the first byte is the code:
//   request  u8 op, u32 object, u64 thread, i64 timeout ns (-1: none), args
//   reply    u8 status (0 ok, 1 ok and the previous holder died,
//            2 timed out, 3 error: (errc, message)), body
// Never installed.

#include <actors/pipe.hpp>

#include <cstdint>
#include <string>

namespace actors::detail {

/// A reply's status byte.
enum status : std::uint8_t { st_ok = 0, st_owner_died = 1, st_timed_out = 2, st_error = 3 };

/// The manager process's target: serves until shut down, after sending the
/// path of its socket on `report`.
void manager_main(connection<std::string> report);

} // namespace actors::detail
