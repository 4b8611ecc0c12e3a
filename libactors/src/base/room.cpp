#include <actors/detail/room.hpp>

#include <sys/mman.h>

#include <cstdint>

namespace actors::detail {

namespace {
constexpr std::size_t huge_from = std::size_t{8} << 20;
}

void advise_huge_pages(void* p, std::size_t n) noexcept {
  if (n < huge_from)
    return;
  constexpr std::uintptr_t page = 4096;
  auto begin = (reinterpret_cast<std::uintptr_t>(p) + page - 1) & ~(page - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(p) + n) & ~(page - 1);
  if (end > begin) // a hint: EINVAL where THP is off changes nothing
    (void) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

void reserve_room(std::string& s, std::size_t more) {
  if (more < huge_from || s.capacity() - s.size() >= more)
    return;
  s.reserve(s.size() + more);
  advise_huge_pages(s.data() + s.size(), s.capacity() - s.size());
}

} // namespace actors::detail
