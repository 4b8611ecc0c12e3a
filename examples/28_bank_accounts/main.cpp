// Bank accounts as actors, each in its own process. A transfer is two asks
// between actors: the bank withdraws from one account and, once that
// succeeded, deposits into the other, without blocking itself
// (self().then). A withdrawal that would overdraw fails its ask with
// remote_error; the money stays where it was.
#include <actors/all.hpp>
#include <iostream>

struct account {
  long balance;
  explicit account(long opening) : balance(opening) {}
  long withdraw(long amount) {
    if (amount > balance)
      throw std::runtime_error("insufficient funds: balance " + std::to_string(balance));
    return balance -= amount;
  }
  long deposit(long amount) { return balance += amount; }
  long get() const { return balance; }
};

struct bank {
  int done = 0, refused = 0;
  // Answers once the deposit has happened (or the withdrawal failed).
  actors::promise<bool> transfer(actors::actor<account> from, actors::actor<account> to, long amount) {
    actors::promise<bool> p;
    actors::self().then(from.ask(&account::withdraw, amount),
                        [this, p, to, amount](actors::future<long> w) mutable {
                          if (!w.successful()) {
                            ++refused;
                            p.set_value(false);
                            return;
                          }
                          actors::self().then(to.ask(&account::deposit, amount),
                                              [this, p](actors::future<long>) mutable {
                                                ++done;
                                                p.set_value(true);
                                              });
                        });
    return p;
  }
  std::pair<int, int> counts() const { return {done, refused}; }
};

int main() {
  actors::node node;
  std::vector<actors::actor<account>> accounts;
  for (long opening : {100, 200, 300})
    accounts.push_back(actors::spawn<account>(actors::in_new_process, opening));
  auto b = actors::spawn<bank>(actors::in_new_process);
  std::vector<actors::future<bool>> transfers;
  for (int i = 0; i < 60; ++i)
    transfers.push_back(b.ask(&bank::transfer, accounts[i % 3], accounts[(i + 1) % 3], long(10 + i)));
  for (auto& t : transfers)
    t.get(std::chrono::seconds(10));
  long total = 0;
  for (auto& a : accounts) {
    long balance = a.ask(&account::get).get();
    total += balance;
    std::cout << a.name() << " (pid " << a.pid() << "): " << balance << '\n';
  }
  auto [done, refused] = b.ask(&bank::counts).get();
  std::cout << done << " transfers done, " << refused << " refused (insufficient funds)\n";
  std::cout << "total " << total << " (conserved: " << (total == 600 ? "yes" : "NO") << ")\n";
  return total == 600 ? 0 : 1;
}
