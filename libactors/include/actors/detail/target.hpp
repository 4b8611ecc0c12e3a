#pragma once
// How a process target crosses into the child without registration: the
// function pointer is sent as (module, offset in that module) and found again
// in the child's loaded image. Internal; include <actors/process.hpp>.

#include <actors/detail/serialize.hpp>

#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace actors::detail {

/// Any function pointer, stored without its signature.
using any_fn = void (*)();

/// Runs a target: decodes `payload` into the target's parameters (taking the
/// descriptors it carries from `fds`) and calls it. Returns the exit code (0).
using trampoline_fn = int (*)(any_fn target, const std::string& payload, std::vector<int>* fds);

/// A target ready to be shipped: what to call, how, and with what.
struct invocation {
  any_fn target = nullptr;
  trampoline_fn trampoline = nullptr;
  std::string payload;
  std::vector<int> fds; // descriptors the arguments carry (borrowed)
};

/// Where a code address lives: a loaded module ("" is the main program) and
/// the offset from that module's load address.
struct code_location {
  std::string module;
  std::uint64_t offset = 0;

  template <class Archive>
  void serialize(Archive& ar) {
    ar(module, offset);
  }
};

/// Finds the module that holds `fn`. Throws errc::target_not_found if none does.
code_location locate(any_fn fn);

/// The name of the function at `where`, from its module's symbol table
/// (mangled; "" when the file has none, e.g. stripped).
std::string symbol_at(const code_location& where);

/// Finds `where` in this process's image; nullptr if that module is not loaded
/// or the offset is not inside its executable code.
any_fn resolve(const code_location& where) noexcept;

// -- signature deduction ------------------------------------------------------

template <class T>
struct fn_traits; // not a function: see the static_assert in as_function_pointer

template <class R, class... Ps>
struct fn_traits<R (*)(Ps...)> {
  using pointer = R (*)(Ps...);
  using result = R;
  using params = std::tuple<Ps...>;
  using args = std::tuple<std::decay_t<Ps>...>;
  static constexpr std::size_t arity = sizeof...(Ps);
};
template <class R, class... Ps>
struct fn_traits<R (*)(Ps...) noexcept> : fn_traits<R (*)(Ps...)> {};
template <class C, class R, class... Ps>
struct fn_traits<R (C::*)(Ps...) const> : fn_traits<R (*)(Ps...)> {};
template <class C, class R, class... Ps>
struct fn_traits<R (C::*)(Ps...) const noexcept> : fn_traits<R (*)(Ps...)> {};
template <class C, class R, class... Ps>
struct fn_traits<R (C::*)(Ps...)> : fn_traits<R (*)(Ps...)> {};

template <class F, class = void>
struct has_call_operator : std::false_type {};
template <class F>
struct has_call_operator<F, std::void_t<decltype(&F::operator())>> : std::true_type {};

template <class F, class = void>
struct callable_traits {
  static constexpr bool valid = false;
};
template <class R, class... Ps>
struct callable_traits<R (*)(Ps...)> : fn_traits<R (*)(Ps...)> {
  static constexpr bool valid = true;
};
template <class R, class... Ps>
struct callable_traits<R (*)(Ps...) noexcept> : fn_traits<R (*)(Ps...)> {
  static constexpr bool valid = true;
};
template <class F>
struct callable_traits<F, std::enable_if_t<has_call_operator<F>::value>>
  : fn_traits<decltype(&F::operator())> {
  static constexpr bool valid
    = std::is_convertible_v<F, typename fn_traits<decltype(&F::operator())>::pointer>;
};

// -- the trampoline -------------------------------------------------------------

template <class P, class T>
decltype(auto) pass_as(T& stored) {
  if constexpr (std::is_lvalue_reference_v<P>)
    return static_cast<P>(stored);
  else
    return std::move(stored);
}

template <class R, class... Ps>
int run_target(any_fn target, const std::string& payload, std::vector<int>* fds) {
  auto args = decode<std::tuple<std::decay_t<Ps>...>>(payload, fds);
  auto fn = reinterpret_cast<R (*)(Ps...)>(target);
  std::apply([fn](auto&... a) { fn(pass_as<Ps>(a)...); }, args);
  return 0;
}

template <class R, class... Ps>
trampoline_fn trampoline_for(R (*)(Ps...)) {
  return &run_target<R, Ps...>;
}

template <std::size_t I, class Tuple>
constexpr bool element_serializable() {
  using T = std::tuple_element_t<I, Tuple>;
  static_assert(is_serializable_v<T>,
                "actors::process: a parameter type of the target is not "
                "serializable with Cereal. Give it a serialize(Archive&) "
                "member (or save/load pair), or include the matching "
                "<cereal/types/...> header before <actors/process.hpp>.");
  return is_serializable_v<T>;
}

template <class Tuple, std::size_t... Is>
constexpr bool all_serializable(std::index_sequence<Is...>) {
  return (element_serializable<Is, Tuple>() && ...);
}

/// Packs a target and its arguments. Every check is a static_assert with a
/// message a user can act on; nothing about the target is checked at run time
/// except that its module can be found in the child.
template <class F, class... Args>
invocation make_invocation(F&& f, Args&&... args) {
  using D = std::decay_t<F>;
  using traits = callable_traits<D>;
  static_assert(traits::valid,
                "actors::process: the target must be a free function, a "
                "function pointer or a lambda without captures");
  if constexpr (traits::valid) {
    using pointer = typename traits::pointer;
    using tuple = typename traits::args;
    static_assert(traits::arity == sizeof...(Args),
                  "actors::process: the number of arguments does not match "
                  "the target's parameters");
    if constexpr (traits::arity == sizeof...(Args)) {
      static_assert(std::is_constructible_v<tuple, Args&&...>,
                    "actors::process: an argument cannot be converted to the "
                    "matching parameter type of the target");
      constexpr bool ok
        = all_serializable<tuple>(std::make_index_sequence<traits::arity>{});
      if constexpr (ok && std::is_constructible_v<tuple, Args&&...>) {
        pointer fp = static_cast<pointer>(f);
        invocation inv;
        inv.target = reinterpret_cast<any_fn>(fp);
        inv.trampoline = trampoline_for(fp);
        inv.payload = encode(tuple(std::forward<Args>(args)...), &inv.fds);
        return inv;
      }
    }
  }
  return {};
}

} // namespace actors::detail
