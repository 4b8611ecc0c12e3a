// actors-node: starts a program as a worker host of a libactors cluster.
//
//   actors-node --join root-host:7070 --name h2
//       --cert h2.pem --key h2.key --ca ca.pem -- ./program [args...]   (one line)
//
// The program must be the same build the root runs (the root refuses
// another). Its actors::node constructor joins the root and serves: the
// root and the other hosts spawn actors in it. It exits once the root goes
// away or cuts it off. The tool checks its arguments, puts them in the
// environment the node reads (ACTORS_JOIN and the rest), and replaces
// itself with the program, so the program's exit status is the tool's.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

bool readable(const std::string& path) {
  std::ifstream f(path);
  return f.good();
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"Starts a program as a worker host of a libactors cluster: it joins the root "
               "at --join over mutual TLS, and the root's spawns reach it."};
  std::string join, name, cert, key, ca;
  bool plaintext = false;
  int heartbeat_ms = 0;
  std::vector<std::string> program;
  app.add_option("--join", join, "the root's host:port")->required();
  app.add_option("--name", name, "this host's name in the cluster (default: the machine's)");
  app.add_option("--cert", cert, "this host's certificate (PEM), signed by the cluster's CA");
  app.add_option("--key", key, "this host's private key (PEM)");
  app.add_option("--ca", ca, "the cluster's CA certificate (PEM)");
  app.add_flag("--plaintext-loopback", plaintext,
               "no TLS; only when the root is on a loopback address (tests)");
  app.add_option("--heartbeat-ms", heartbeat_ms,
                 "heartbeat interval; a host silent for three is gone (default 500)")
    ->check(CLI::Range(1, 60000));
  app.add_option("program", program, "the program and its arguments, after --")->required();
  CLI11_PARSE(app, argc, argv);

  if (join.find(':') == std::string::npos) {
    std::fprintf(stderr, "actors-node: --join %s is not host:port\n", join.c_str());
    return 2;
  }
  if (!plaintext) {
    if (cert.empty() || key.empty() || ca.empty()) {
      std::fprintf(stderr, "actors-node: give --cert, --key and --ca (mutual TLS), or "
                           "--plaintext-loopback for a root on 127.0.0.1\n");
      return 2;
    }
    for (const auto* f : {&cert, &key, &ca})
      if (!readable(*f)) {
        std::fprintf(stderr, "actors-node: cannot read %s\n", f->c_str());
        return 2;
      }
  }
  ::setenv("ACTORS_JOIN", join.c_str(), 1);
  if (!name.empty())
    ::setenv("ACTORS_JOIN_NAME", name.c_str(), 1);
  if (plaintext) {
    ::setenv("ACTORS_CLUSTER_PLAINTEXT", "1", 1);
  } else {
    ::setenv("ACTORS_TLS_CERT", cert.c_str(), 1);
    ::setenv("ACTORS_TLS_KEY", key.c_str(), 1);
    ::setenv("ACTORS_TLS_CA", ca.c_str(), 1);
  }
  if (heartbeat_ms > 0)
    ::setenv("ACTORS_CLUSTER_HEARTBEAT_MS", std::to_string(heartbeat_ms).c_str(), 1);
  std::vector<char*> args;
  for (auto& a : program)
    args.push_back(a.data());
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  std::perror(("actors-node: cannot start " + program[0]).c_str());
  return 127;
}
