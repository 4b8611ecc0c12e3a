// A key-value store actor in its own process, used by three client
// processes at once. Each client writes its own keys and bumps a shared
// counter; the store runs one message at a time, so no update is lost.
#include <actors/all.hpp>
#include <cereal/types/map.hpp>
#include <iostream>
#include <map>

struct kv_store {
  std::map<std::string, long> data;
  void put(std::string key, long value) { data[key] = value; }
  std::optional<long> get(const std::string& key) const {
    auto it = data.find(key);
    return it == data.end() ? std::nullopt : std::optional<long>(it->second);
  }
  long increment(const std::string& key, long by) { return data[key] += by; }
  std::size_t size() const { return data.size(); }
};

void client(actors::actor<kv_store> store, int id, int n) {
  for (int i = 0; i < n; ++i) {
    store.tell(&kv_store::put, "client" + std::to_string(id) + ":" + std::to_string(i), long(i));
    store.tell(&kv_store::increment, std::string("hits"), 1L);
  }
  // an ask after the tells: every tell of this client has run by then
  auto mine = store.ask(&kv_store::get, "client" + std::to_string(id) + ":" + std::to_string(n - 1));
  std::cout << "client " << id << " (pid " << actors::current_process().pid() << ") read back "
            << *mine.get(std::chrono::seconds(5)) << '\n';
}

int main() {
  actors::node node;
  auto store = actors::spawn<kv_store>(actors::in_new_process);
  std::vector<actors::process> clients;
  for (int id = 1; id <= 3; ++id)
    clients.emplace_back(client, store, id, 1000);
  for (auto& c : clients)
    c.start();
  for (auto& c : clients)
    c.join();
  std::cout << "store (pid " << store.pid() << ") holds " << store.ask(&kv_store::size).get() << " keys, hits = "
            << *store.ask(&kv_store::get, std::string("hits")).get() << '\n';
}
