// Targets cross into the child as (module, offset): the module that holds the
// function (the program itself is "") and the offset from its load address.
// The child looks the module up in its own image, so neither registration nor
// equal load addresses (ASLR, spawn) are needed.

#include <actors/detail/target.hpp>
#include <actors/errors.hpp>

#include <cstdio>
#include <elf.h>
#include <link.h>
#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

namespace actors::detail {

std::string symbol_at(const code_location& where) {
  // The symbol table of the module's file (.symtab, else .dynsym): a
  // program needs no -rdynamic for its methods to be named in errors.
  std::string path = where.module.empty() ? "/proc/self/exe" : where.module;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return {};
  struct stat st {};
  std::string name;
  if (::fstat(fd, &st) == 0 && st.st_size > static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    auto size = static_cast<std::size_t>(st.st_size);
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map != MAP_FAILED) {
      auto* base = static_cast<const char*>(map);
      auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
      auto in_file = [&](std::uint64_t off, std::uint64_t len) { return off <= size && len <= size - off; };
      if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0 && eh->e_ident[EI_CLASS] == ELFCLASS64
          && in_file(eh->e_shoff, std::uint64_t(eh->e_shnum) * sizeof(Elf64_Shdr))) {
        auto* sh = reinterpret_cast<const Elf64_Shdr*>(base + eh->e_shoff);
        for (int pass = 0; pass < 2 && name.empty(); ++pass) {
          Elf64_Word wanted = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
          for (int i = 0; i < eh->e_shnum && name.empty(); ++i) {
            if (sh[i].sh_type != wanted || sh[i].sh_link >= eh->e_shnum)
              continue;
            auto& strs = sh[sh[i].sh_link];
            if (!in_file(sh[i].sh_offset, sh[i].sh_size) || !in_file(strs.sh_offset, strs.sh_size))
              continue;
            auto* syms = reinterpret_cast<const Elf64_Sym*>(base + sh[i].sh_offset);
            auto count = sh[i].sh_size / sizeof(Elf64_Sym);
            for (std::size_t k = 0; k < count; ++k) {
              auto& s = syms[k];
              if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_name >= strs.sh_size)
                continue;
              if (where.offset >= s.st_value && where.offset < s.st_value + std::max<std::uint64_t>(s.st_size, 1)) {
                name = base + strs.sh_offset + s.st_name;
                break;
              }
            }
          }
        }
      }
      ::munmap(map, size);
    }
  }
  ::close(fd);
  return name;
}

} // namespace actors::detail
