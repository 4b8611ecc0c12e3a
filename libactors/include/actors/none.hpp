#pragma once
/// @file none.hpp
/// `actors::none_t`: Python's None as a result.

#include <cstdint>

namespace actors {

/// What a map over a function returning void yields for each item (Python's
/// None). One byte on the wire.
struct none_t {
  template <class Archive>
  void serialize(Archive& ar) {
    std::uint8_t zero = 0;
    ar(zero);
  }
  friend bool operator==(none_t, none_t) noexcept { return true; }
  friend bool operator!=(none_t, none_t) noexcept { return false; }
};

} // namespace actors
