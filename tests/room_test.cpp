// detail/room.hpp: large buffers are asked for huge pages before they are
// written; small ones are left alone.

#include <actors/detail/room.hpp>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace {

using actors::detail::reserve_room;

// The VmFlags of the mapping of this process that holds `p` ("" if none).
std::string vm_flags_of(const void* p) {
  auto at = reinterpret_cast<std::uintptr_t>(p);
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    std::uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      inside = lo <= at && at < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0)
      return line;
  }
  return "";
}

bool thp_madvise_available() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string s;
  std::getline(f, s);
  return s.find("[madvise]") != std::string::npos || s.find("[always]") != std::string::npos;
}

TEST(room, a_small_room_is_left_to_the_strings_own_growth) {
  std::string s = "abc";
  auto cap = s.capacity();
  reserve_room(s, 100);
  EXPECT_EQ(s.capacity(), cap);
  EXPECT_EQ(s, "abc");
}

TEST(room, a_large_room_is_reserved_and_keeps_what_the_string_held) {
  std::string s = "head";
  reserve_room(s, std::size_t{16} << 20);
  EXPECT_GE(s.capacity(), s.size() + (std::size_t{16} << 20));
  EXPECT_EQ(s, "head");
  auto* before = s.data();
  s.append(std::size_t{16} << 20, 'x'); // fits: no reallocation
  EXPECT_EQ(s.data(), before);
  reserve_room(s, std::size_t{1} << 20); // small: nothing changes
  EXPECT_EQ(s.data(), before);
}

TEST(room, a_large_room_is_marked_for_huge_pages) {
  if (!thp_madvise_available())
    GTEST_SKIP() << "transparent huge pages are off on this machine";
  std::string s;
  reserve_room(s, std::size_t{64} << 20);
  auto flags = vm_flags_of(s.data() + (std::size_t{32} << 20));
  EXPECT_NE(flags.find(" hg"), std::string::npos) << flags;
  std::string plain;
  plain.reserve(std::size_t{64} << 20); // the same size, not through reserve_room
  auto plain_flags = vm_flags_of(plain.data() + (std::size_t{32} << 20));
  EXPECT_EQ(plain_flags.find(" hg"), std::string::npos) << plain_flags;
}

// The node (tests/main.cpp makes one) keeps big blocks in malloc's arenas:
// a 1 MiB block is not a mapping of its own, which glibc marks with bit 1
// (IS_MMAPPED) of the size word before the block.
TEST(room, the_node_keeps_a_mebibyte_block_out_of_its_own_mapping) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer brings its own malloc";
#endif
  void* p = std::malloc(std::size_t{1} << 20);
  ASSERT_NE(p, nullptr);
  std::size_t size_word = 0;
  auto word_at = reinterpret_cast<std::uintptr_t>(p) - sizeof size_word;
  std::memcpy(&size_word, reinterpret_cast<const void*>(word_at), sizeof size_word);
  std::free(p);
  EXPECT_EQ(size_word & 2u, 0u);
}

} // namespace
