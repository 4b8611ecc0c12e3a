// Topology: a pipeline across processes.
//
//   producer --q0--> stage 1 --q1--> stage 2 --q2--> stage 3 --q3--> sink
//
// Every queue is bounded (maxsize 1024): a slow stage holds the ones before it
// back instead of letting a queue grow. Items are numbers; each stage adds
// its own number to the item; the sink adds everything up and reports
// through a pipe. An empty optional marks the end of the stream.

#include <actors/all.hpp>
#include <chrono>
#include <iostream>

using item = std::optional<long>;
constexpr int stages = 3;
constexpr long items = 200'000;
constexpr std::uint64_t depth = 1024;

void producer(actors::queue<item> out, long n) {
  for (long i = 1; i <= n; ++i)
    out.put(i);
  out.put(std::nullopt);
}

void stage(actors::queue<item> in, actors::queue<item> out, int number) {
  while (auto v = in.get())
    out.put(*v + number);
  out.put(std::nullopt);
}

void sink(actors::queue<item> in, actors::connection<long> report) {
  long sum = 0;
  while (auto v = in.get())
    sum += *v;
  report.send(sum);
}

int main() {
  actors::node node;
  std::vector<actors::queue<item>> qs;
  for (int i = 0; i <= stages; ++i)
    qs.emplace_back(depth);
  auto [result, report] = actors::pipe<long>(false);

  std::vector<actors::process> ps;
  ps.emplace_back(producer, qs[0], items);
  ps.back().name("producer");
  for (int s = 1; s <= stages; ++s) {
    ps.emplace_back(stage, qs[s - 1], qs[s], s);
    ps.back().name("stage-" + std::to_string(s));
  }
  ps.emplace_back(sink, qs[stages], report);
  ps.back().name("sink");

  auto t0 = std::chrono::steady_clock::now();
  for (auto& p : ps)
    p.start();
  long sum = result.recv(std::chrono::seconds(60));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& p : ps)
    p.join();

  long expected = items * (items + 1) / 2 + items * (stages * (stages + 1) / 2);
  std::cout << "pipeline: producer -> " << stages << " stages -> sink, queues of " << depth
            << '\n'
            << "items: " << items << ", sum at the sink: " << sum << " (expected " << expected
            << ")\n"
            << "throughput: " << static_cast<long>(items / s) << " items/s end to end\n";
  for (auto& p : ps)
    std::cout << "  " << p.name() << " exitcode " << *p.exitcode() << '\n';
  return sum == expected ? 0 : 1;
}
