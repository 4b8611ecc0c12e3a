// A chat room actor with members that come and go. Each member is an actor
// in its own process; the room monitors them, so a member whose process is
// killed is noticed and announced, not left in the room forever.
#include <actors/all.hpp>
#include <cereal/types/set.hpp>
#include <iostream>
#include <set>
#include <csignal>
#include <thread>

struct member {
  std::string nick;
  std::vector<std::string> heard;
  explicit member(std::string n) : nick(std::move(n)) {}
  void hear(std::string line) { heard.push_back(std::move(line)); }
  std::vector<std::string> log() const { return heard; }
};

struct room {
  std::map<std::string, actors::actor<member>> members;
  std::vector<std::string> history;
  void say(const std::string& line) {
    history.push_back(line);
    for (auto& [nick, m] : members)
      m.tell(&member::hear, line);
  }
  void join(std::string nick, actors::actor<member> m) {
    members[nick] = m;
    actors::self().monitor(m, [this, nick](const actors::down& d) {
      if (members.erase(nick))
        say("* " + nick + " left: " + d.reason.describe());
    });
    say("* " + nick + " joined");
  }
  void leave(std::string nick) {
    if (members.erase(nick))
      say("* " + nick + " left");
  }
  void post(std::string nick, std::string text) { say("<" + nick + "> " + text); }
  std::vector<std::string> transcript() const { return history; }
};

int main() {
  actors::node node;
  auto r = actors::spawn<room>();
  auto ann = actors::spawn<member>(actors::in_new_process, std::string("ann"));
  auto bob = actors::spawn<member>(actors::in_new_process, std::string("bob"));
  auto cid = actors::spawn<member>(actors::in_new_process, std::string("cid"));
  r.tell(&room::join, std::string("ann"), ann);
  r.tell(&room::join, std::string("bob"), bob);
  r.tell(&room::post, std::string("ann"), std::string("hi all"));
  r.tell(&room::join, std::string("cid"), cid);
  r.tell(&room::post, std::string("cid"), std::string("hello!"));
  r.tell(&room::leave, std::string("ann"));
  r.ask(&room::transcript).get(); // all of the above has run
  ::kill(bob.pid(), SIGKILL);     // bob's process dies without a word
  for (int i = 0; i < 500; ++i) { // the room's monitor notices within milliseconds
    auto t = r.ask(&room::transcript).get();
    if (t.back().rfind("* bob left", 0) == 0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  r.tell(&room::post, std::string("cid"), std::string("where did bob go?"));
  for (auto& line : r.ask(&room::transcript).get())
    std::cout << line << '\n';
  std::cout << "cid heard " << cid.ask(&member::log).get().size() << " lines\n";
}
