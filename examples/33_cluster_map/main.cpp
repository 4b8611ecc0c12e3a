// A map across two hosts. This program is the root: it listens for hosts,
// waits for one to join, and runs a pool with a worker on each host.
//
// On two machines, with certificates made as docs/cluster.md shows:
//   root$    33_cluster_map 0.0.0.0 7070 certs/
//   worker$  actors-node --join root-host:7070 --name h2 --cert certs/h2.pem
//                --key certs/h2.key --ca certs/ca.pem -- ./33_cluster_map    (one line)
// With no arguments it tries the same on this machine: plain TCP on
// 127.0.0.1, and it starts the worker host itself, as actors-node would.
#include <actors/all.hpp>
#include <actors/cluster.hpp>

#include <spawn.h>
#include <unistd.h>

#include <iostream>
#include <set>
#include <string>

extern char** environ;

// Which host ran it, after a little work (every worker gets some).
std::string where(int) {
  ::usleep(20000);
  return actors::cluster::this_host();
}

int square(int x) {
  return x * x;
}

int main(int argc, char** argv) {
  actors::node node; // on a worker host (started by actors-node) it serves here
  auto opts = actors::cluster::options().name("root");
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;
  if (argc == 4) {
    address = argv[1];
    port = static_cast<std::uint16_t>(std::stoi(argv[2]));
    std::string certs = argv[3];
    opts.tls(certs + "/root.pem", certs + "/root.key", certs + "/ca.pem");
  } else {
    opts.plaintext_on_loopback();
  }
  port = actors::cluster::listen(address, port, opts);
  if (argc != 4) { // what `actors-node --join 127.0.0.1:PORT --name h2 --plaintext-loopback` does
    std::string join = "ACTORS_JOIN=127.0.0.1:" + std::to_string(port);
    std::vector<std::string> env = {join, "ACTORS_JOIN_NAME=h2", "ACTORS_CLUSTER_PLAINTEXT=1"};
    for (char** e = environ; *e; ++e)
      env.emplace_back(*e);
    std::vector<char*> envp;
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    char* args[] = {argv[0], nullptr};
    pid_t pid;
    if (::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, args, envp.data()) != 0) {
      std::cerr << "cannot start the worker host\n";
      return 1;
    }
  }
  actors::cluster::wait_for_hosts(2, std::chrono::seconds(30));
  std::cout << "hosts:";
  for (auto& h : actors::cluster::hosts())
    std::cout << " " << h;
  std::cout << "\n";

  actors::pool pool(actors::pool_options().processes(2).hosts({"root", "h2"}));
  auto squares = pool.map(square, std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8});
  std::cout << "squares:";
  for (int s : squares)
    std::cout << " " << s;
  std::cout << "\n";
  auto hosts = pool.map(where, std::vector<int>(20, 0), 1);
  std::set<std::string> seen(hosts.begin(), hosts.end());
  std::cout << "tasks ran on:";
  for (auto& h : seen)
    std::cout << " " << h;
  std::cout << "\n";
}
