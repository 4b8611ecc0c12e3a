#pragma once
// Cereal glue shared by everything that crosses a process boundary: a binary
// archive pair that writes into and reads from memory, where the input side
// checks every size prefix against the bytes that remain before anything is
// allocated (Cereal's own binary archive trusts them), and descriptor passing
// for handles such as pipe ends. Internal: include <actors/all.hpp> instead.

#include <actors/errors.hpp>

#include <cereal/cereal.hpp>
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

#include <actors/detail/room.hpp>

#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace actors::detail {

/// Appends Cereal's binary encoding to a std::string.
class output_archive : public cereal::OutputArchive<output_archive, cereal::AllowEmptyClassElision> {
public:
  explicit output_archive(std::string& out)
    : cereal::OutputArchive<output_archive, cereal::AllowEmptyClassElision>(this), out_(out) {}

  void saveBinary(const void* data, std::size_t size) {
    if (size > 0) { // an empty container's data() may be null
      reserve_room(out_, size);
      out_.append(static_cast<const char*>(data), size);
    }
  }

private:
  std::string& out_;
};

/// Reads Cereal's binary encoding from memory. Never reads past the end, and
/// refuses a size prefix larger than the bytes that remain, so a malformed
/// payload cannot make it allocate more than the payload's own size.
class input_archive : public cereal::InputArchive<input_archive, cereal::AllowEmptyClassElision> {
public:
  input_archive(const char* data, std::size_t size)
    : cereal::InputArchive<input_archive, cereal::AllowEmptyClassElision>(this),
      pos_(data), end_(data + size) {}

  void loadBinary(void* data, std::size_t size) {
    if (size > remaining())
      throw cereal::Exception("payload truncated: " + std::to_string(size)
                              + " bytes needed, " + std::to_string(remaining()) + " remain");
    if (size == 0) // an empty container's data() may be null
      return;
    std::memcpy(data, pos_, size);
    pos_ += size;
  }

  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - pos_); }

  /// Throws unless `count` elements of at least `element_size` bytes fit.
  void check_size(std::uint64_t count, std::size_t element_size) const {
    if (count > remaining() / (element_size ? element_size : 1))
      throw cereal::Exception("size prefix " + std::to_string(count) + " exceeds the "
                              + std::to_string(remaining()) + " bytes that remain");
  }

private:
  const char* pos_;
  const char* end_;
};

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> save(output_archive& ar, const T& t) {
  ar.saveBinary(std::addressof(t), sizeof t);
}
template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> load(input_archive& ar, T& t) {
  ar.loadBinary(std::addressof(t), sizeof t);
}
// A bool is one byte that must be 0 or 1: any other value would be undefined
// behaviour once loaded.
inline void load(input_archive& ar, bool& b) {
  unsigned char byte = 0;
  ar.loadBinary(&byte, 1);
  if (byte > 1)
    throw cereal::Exception("invalid bool byte " + std::to_string(byte));
  b = byte == 1;
}
template <class Archive, class T>
CEREAL_ARCHIVE_RESTRICT(input_archive, output_archive)
serialize(Archive& ar, cereal::NameValuePair<T>& t) {
  ar(t.value);
}
template <class T>
void save(output_archive& ar, const cereal::SizeTag<T>& t) {
  ar(t.size);
}
template <class T>
void load(input_archive& ar, cereal::SizeTag<T>& t) {
  ar(t.size);
  ar.check_size(t.size, 1); // every element takes at least one byte
}
template <class T>
void save(output_archive& ar, const cereal::BinaryData<T>& bd) {
  ar.saveBinary(bd.data, static_cast<std::size_t>(bd.size));
}
template <class T>
void load(input_archive& ar, cereal::BinaryData<T>& bd) {
  ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}
// Vectors of numbers: check the whole byte count before the resize.
template <class T, class A>
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>
load(input_archive& ar, std::vector<T, A>& v) {
  cereal::size_type n;
  ar(n);
  ar.check_size(n, sizeof(T));
  v.resize(static_cast<std::size_t>(n));
  ar.loadBinary(v.data(), static_cast<std::size_t>(n) * sizeof(T));
}
template <class T, class A>
std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>
save(output_archive& ar, const std::vector<T, A>& v) {
  ar(static_cast<cereal::size_type>(v.size()));
  ar.saveBinary(v.data(), v.size() * sizeof(T));
}

// -- descriptors --------------------------------------------------------------

/// While a value is encoded for another process, descriptors that travel with
/// it (pipe ends...) are collected here; while it is decoded, the received
/// ones are taken from here. Null outside those moments.
/// (Functions, not extern thread_local variables: GCC's TLS wrappers for
/// those misbehave across a static library under UBSan.)
std::vector<int>*& outgoing_fds() noexcept;
std::vector<int>*& incoming_fds() noexcept;

/// True while a value is encoded for an actor on another host of a cluster
/// (a call or a spawn there): locks, semaphores and events then travel as
/// the address of their coordinator, not as descriptors.
bool& crossing_hosts() noexcept;

/// Sets crossing_hosts() for a scope when `on` (nested scopes keep it).
class crossing_hosts_scope {
public:
  explicit crossing_hosts_scope(bool on = true) noexcept : saved_(crossing_hosts()) {
    crossing_hosts() = saved_ || on;
  }
  ~crossing_hosts_scope() { crossing_hosts() = saved_; }
  crossing_hosts_scope(const crossing_hosts_scope&) = delete;
  crossing_hosts_scope& operator=(const crossing_hosts_scope&) = delete;

private:
  bool saved_;
};

/// True while decode() runs on this thread: handles such as a queue that are
/// default-constructed only to be loaded must not create anything then.
bool& decoding() noexcept;

/// In a fork()ed child: forgets the codec state of the thread
/// that forked. A fork made while a value was being decoded (a fork server
/// started by a handle's load()) would otherwise leave decoding() true in the
/// child for good, and every queue it made would be an empty placeholder.
void forget_codec_state_after_fork() noexcept;

/// Throws actors::error(errc::bad_payload): `what_failed` says why.
[[noreturn]] void throw_bad_payload(const char* what_failed);

/// True when T can be written and read back with these archives (a raw
/// pointer cannot: Cereal finds an overload for it that only fails inside).
template <class T>
inline constexpr bool is_serializable_v
  = !std::is_pointer_v<T> && cereal::traits::is_output_serializable<T, output_archive>::value
    && cereal::traits::is_input_serializable<T, input_archive>::value;

/// Numbers, and tuples of them, whose encoding is their bytes in order:
/// exactly what Cereal's binary archive writes for them, so they skip the
/// archive (building one costs more than a small message's whole send).
/// bool is not one: loading it checks its byte.
template <class T>
struct is_plain : std::bool_constant<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>> {};
template <class... Ts>
struct is_plain<std::tuple<Ts...>> : std::bool_constant<(is_plain<Ts>::value && ...)> {};

template <class T>
constexpr std::size_t plain_size() {
  if constexpr (std::is_arithmetic_v<T>)
    return sizeof(T);
  else
    return std::apply([](const auto&... x) { return (std::size_t{0} + ... + sizeof(x)); }, T{});
}

template <class T>
void append_plain(char*& at, const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    std::memcpy(at, &value, sizeof value);
    at += sizeof value;
  } else {
    std::apply([&at](const auto&... x) { (append_plain(at, x), ...); }, value);
  }
}

template <class T>
void read_plain(const char*& at, T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    std::memcpy(&value, at, sizeof value);
    at += sizeof value;
  } else {
    std::apply([&at](auto&... x) { (read_plain(at, x), ...); }, value);
  }
}

/// Appends the encoding of `value` to `out`; descriptors it carries are
/// appended to `fds` (borrowed, not duplicated).
template <class T>
void encode_append(std::string& out, const T& value, std::vector<int>* fds = nullptr) {
  if constexpr (is_plain<T>::value) {
    auto old = out.size();
    out.resize(old + plain_size<T>());
    char* at = out.data() + old;
    append_plain(at, value);
    return;
  }
  auto& slot = outgoing_fds();
  auto* saved = slot;
  slot = fds;
  try {
    output_archive archive(out);
    archive(value);
  } catch (...) {
    slot = saved;
    throw;
  }
  slot = saved;
}

/// Encodes `value`; descriptors it carries are appended to `fds` (borrowed,
/// not duplicated).
template <class T>
std::string encode(const T& value, std::vector<int>* fds = nullptr) {
  std::string out;
  encode_append(out, value, fds);
  return out;
}

/// Encodes `value` for an actor on another host (see crossing_hosts()).
template <class T>
std::string encode_across_hosts(const T& value) {
  crossing_hosts_scope scope;
  return encode(value);
}

/// A readable name for a type, from typeid(T).name() ("actors::mutex").
std::string type_name(const char* mangled);

template <class Tuple, std::size_t... I>
[[noreturn]] void throw_unencodable_arg(const Tuple& args, const error& first,
                                        std::index_sequence<I...>) {
  auto check = [](const auto& arg, std::size_t index) {
    try {
      (void) encode(arg);
    } catch (const error& e) {
      if (e.value() != errc::bad_argument)
        throw;
      throw error(errc::bad_argument,
                  "argument " + std::to_string(index + 1) + " ("
                    + type_name(typeid(std::decay_t<decltype(arg)>).name())
                    + ") cannot be a task argument: " + e.what());
    }
  };
  (check(std::get<I>(args), I), ...);
  throw first;
}

/// Encodes the arguments of a task that any worker may run. A handle that
/// carries a descriptor (pipe end, lock, shared value) cannot be one: the
/// error names the argument and its type.
template <class... Ts>
std::string encode_task_args(const std::tuple<Ts...>& args) {
  try {
    return encode(args);
  } catch (const error& e) {
    if (e.value() != errc::bad_argument)
      throw;
    throw_unencodable_arg(args, e, std::index_sequence_for<Ts...>{});
  }
}

/// Decodes a T from `size` bytes; descriptors come from `fds` (the value takes
/// ownership of those it uses). Throws errc::bad_payload if the bytes do not
/// decode or are not all used.
template <class T>
T decode(const char* data, std::size_t size, std::vector<int>* fds = nullptr) {
  if constexpr (is_plain<T>::value) {
    if (size != plain_size<T>())
      throw_bad_payload(("a value of " + std::to_string(plain_size<T>()) + " bytes came as "
                         + std::to_string(size) + " bytes").c_str());
    T value{};
    read_plain(data, value);
    return value;
  }
  bool& flag = decoding();
  bool was_decoding = flag;
  flag = true;
  struct restore {
    bool& flag;
    bool value;
    ~restore() { flag = value; }
  } restore_flag{flag, was_decoding};
  T value{};
  auto& slot = incoming_fds();
  auto* saved = slot;
  slot = fds;
  try {
    input_archive archive(data, size);
    archive(value);
    if (archive.remaining() != 0)
      throw cereal::Exception(std::to_string(archive.remaining())
                              + " bytes left over after the value");
  } catch (const std::exception& e) {
    slot = saved;
    throw_bad_payload(e.what());
  }
  slot = saved;
  return value;
}

template <class T>
T decode(const std::string& bytes, std::vector<int>* fds = nullptr) {
  return decode<T>(bytes.data(), bytes.size(), fds);
}

} // namespace actors::detail

CEREAL_REGISTER_ARCHIVE(actors::detail::output_archive)
CEREAL_REGISTER_ARCHIVE(actors::detail::input_archive)
CEREAL_SETUP_ARCHIVE_TRAITS(actors::detail::input_archive, actors::detail::output_archive)
