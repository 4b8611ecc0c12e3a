// Targets cross into the child as (module, offset): the module that holds the
// function (the program itself is "") and the offset from its load address.
// The child looks the module up in its own image, so neither registration nor
// equal load addresses (ASLR, spawn) are needed.

#include <actors/detail/target.hpp>
#include <actors/errors.hpp>

#include <cstdio>
#include <elf.h>
#include <link.h>

namespace actors::detail {

namespace {

struct search {
  std::uintptr_t address = 0;
  const code_location* wanted = nullptr;
  bool first = true; // dl_iterate_phdr reports the program first
  bool found = false;
  code_location result;
  std::uintptr_t resolved = 0;
};

std::string module_name(const dl_phdr_info* info, bool first) {
  return first ? std::string() : std::string(info->dlpi_name ? info->dlpi_name : "");
}

// True if [addr] lies inside an executable PT_LOAD segment of the module.
bool in_code(const dl_phdr_info* info, std::uintptr_t addr) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const auto& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
      continue;
    auto lo = info->dlpi_addr + ph.p_vaddr;
    if (addr >= lo && addr < lo + ph.p_memsz)
      return true;
  }
  return false;
}

int find_address(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<search*>(data);
  bool first = std::exchange(s->first, false);
  if (!in_code(info, s->address))
    return 0;
  s->result.module = module_name(info, first);
  s->result.offset = s->address - info->dlpi_addr;
  s->found = true;
  return 1;
}

int find_module(dl_phdr_info* info, std::size_t, void* data) {
  auto* s = static_cast<search*>(data);
  bool first = std::exchange(s->first, false);
  if (module_name(info, first) != s->wanted->module)
    return 0;
  auto addr = info->dlpi_addr + s->wanted->offset;
  if (in_code(info, addr))
    s->resolved = addr;
  return 1;
}

} // namespace

code_location locate(any_fn fn) {
  search s;
  s.address = reinterpret_cast<std::uintptr_t>(fn);
  dl_iterate_phdr(find_address, &s);
  if (!s.found) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%p", reinterpret_cast<void*>(s.address));
    throw error(errc::target_not_found,
                std::string("the target at ") + buf
                  + " is not inside the code of any loaded module");
  }
  return s.result;
}

any_fn resolve(const code_location& where) noexcept {
  search s;
  s.wanted = &where;
  dl_iterate_phdr(find_module, &s);
  return reinterpret_cast<any_fn>(s.resolved);
}

} // namespace actors::detail
