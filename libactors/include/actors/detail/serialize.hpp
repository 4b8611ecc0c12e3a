#pragma once
// Cereal glue shared by everything that crosses a process boundary. Internal:
// the names here may change; include <actors/all.hpp> instead.

#include <cereal/archives/binary.hpp>
#include <cereal/types/array.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include <sstream>
#include <string>
#include <type_traits>

namespace actors::detail {

/// True when T can be written and read back with Cereal's binary archives.
template <class T>
inline constexpr bool is_serializable_v
  = cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value
    && cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

template <class T>
std::string encode(const T& value) {
  std::ostringstream out;
  {
    cereal::BinaryOutputArchive archive(out);
    archive(value);
  }
  return std::move(out).str();
}

/// Throws actors::error(errc::bad_payload) when `bytes` does not decode.
[[noreturn]] void throw_bad_payload(const char* what_failed);

template <class T>
T decode(const std::string& bytes) {
  T value{};
  try {
    std::istringstream in(bytes);
    cereal::BinaryInputArchive archive(in);
    archive(value);
  } catch (const std::exception& e) {
    throw_bad_payload(e.what());
  }
  return value;
}

} // namespace actors::detail
