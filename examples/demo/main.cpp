// The libactors demo: what `tools/run-demo` runs.
//
// First, a map built by hand from processes and queues: four workers, on all
// three start methods, take numbers from a bounded job queue and put their
// squares on a result queue. Around them: a worker that fails with an
// exception, one that hangs and is terminated, and a supervisor that talks to
// its own child through a pipe. The parent prints what came back and every
// exit code. The workers also tell each square to a tally actor that lives
// in a process of its own (its handle travels to them as an argument); a
// second actor's process is killed, its monitor hears why, and asks to it
// fail at once; a third, under an actors::supervisor, is killed too and
// comes back in a new process, reached through the handle it had. Then the
// same kind of job on actors::pool, whose supervisor replaces a worker that
// is killed mid-task while the rest goes on.

#include <actors/all.hpp>

#include <chrono>
#include <future>
#include <csignal>
#include <numeric>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

using namespace std::chrono_literals;

namespace {

struct result {
  int n = 0;
  long square = 0;
  int pid = 0;
  template <class Archive>
  void serialize(Archive& ar) {
    ar(n, square, pid);
  }
};

// An actor: its members are its state, its methods its messages.
struct tally {
  long sum = 0;
  int count = 0;
  void add(long v) {
    sum += v;
    ++count;
  }
  long total() const { return sum; }
  int items() const { return count; }
};

void square_worker(actors::queue<int> jobs, actors::queue<result> results,
                   actors::actor<tally> t) {
  int done = 0;
  for (int n; (n = jobs.get()) != -1; ++done) {
    results.put({n, long(n) * n, actors::current_process().pid()});
    t.tell(&tally::add, long(n) * n); // one-way, to an actor in another process
  }
  actors::log::info() << "squared " << done << " numbers";
}

void broken(std::string why) {
  throw std::invalid_argument(why);
}

void hang() {
  std::this_thread::sleep_for(1h);
}

long cube(int n) {
  return long(n) * n * n;
}

long die_on_purpose(int) {
  ::raise(SIGKILL); // a worker lost mid-task: the pool must survive it
  return 0;
}

void echo_twice(actors::connection<std::string> c) {
  auto text = c.recv();
  c.send(text + text);
}

void supervisor(std::string word) {
  auto [mine, theirs] = actors::pipe<std::string>();
  actors::process child(echo_twice, theirs);
  child.start();
  theirs.close();
  mine.send(word);
  actors::log::info() << "my child " << child.name() << " answered " << mine.recv();
  child.join();
}

} // namespace

int main() {
  actors::node node;
  actors::log::basic_config({"%(asctime)s [%(processName)s] %(message)s", "%H:%M:%S"});
  actors::log::info() << "main process " << actors::current_process().pid() << " on "
                      << actors::cpu_count() << " CPUs";

  auto counted = actors::spawn<tally>(actors::in_new_process); // an actor in its own process
  actors::queue<int> jobs(8); // bounded: the parent is held back, not flooded
  actors::queue<result> results;
  std::vector<actors::process> workers;
  const actors::start_method methods[] = {actors::start_method::forkserver,
                                          actors::start_method::spawn,
                                          actors::start_method::fork,
                                          actors::start_method::forkserver};
  for (auto m : methods) {
    workers.emplace_back(square_worker, jobs, results, counted);
    workers.back().method(m).start();
  }
  std::vector<actors::process> others;
  others.emplace_back(broken, "bad input on purpose");
  others.emplace_back(hang).name("hanger");
  others.emplace_back(supervisor, "ping").name("supervisor");
  for (auto& p : others)
    p.start();

  auto t0 = std::chrono::steady_clock::now();
  constexpr int count = 20;
  for (int n = 1; n <= count; ++n)
    jobs.put(n);
  for (std::size_t i = 0; i < workers.size(); ++i)
    jobs.put(-1); // one stop sign per worker
  std::map<int, result> squares;
  for (int i = 0; i < count; ++i) {
    auto r = results.get(10s);
    squares[r.n] = r;
  }
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0);

  if (!others[1].join(300ms)) {
    actors::log::info() << "hanger still alive after 300 ms: terminate()";
    others[1].terminate();
  }
  for (auto& p : workers)
    p.join();
  for (auto& p : others)
    p.join();

  std::cout << "\n  n  n*n   by pid\n";
  long sum = 0;
  for (auto& [n, r] : squares) {
    std::cout << std::setw(3) << n << std::setw(5) << r.square << "   " << r.pid << '\n';
    sum += r.square;
  }
  std::cout << "\n  " << std::left << std::setw(12) << "process" << std::setw(12) << "method"
            << "exitcode\n";
  for (auto* group : {&workers, &others})
    for (auto& p : *group)
      std::cout << "  " << std::setw(12) << p.name() << std::setw(12)
                << actors::to_string(p.method()) << *p.exitcode() << '\n';
  std::cout << "\nsum of squares 1.." << count << " = " << sum << " (expected 2870), mapped in "
            << static_cast<int>(ms.count()) << " ms\n";

  // Actors: the tally heard every worker; another actor's process is killed.
  std::cout << "\nactor " << counted.name() << " (pid " << counted.pid() << ") was told "
            << counted.ask(&tally::items).get(5s) << " squares by 4 processes, total "
            << counted.ask(&tally::total).get(5s) << '\n';
  auto victim = actors::spawn<tally>(actors::in_new_process);
  auto down = std::make_shared<std::promise<std::string>>();
  actors::monitor(victim, [down](const actors::down& d) { down->set_value(d.reason.describe()); });
  ::kill(victim.pid(), SIGKILL);
  auto why = down->get_future();
  if (why.wait_for(5s) == std::future_status::ready)
    std::cout << "actor " << victim.name() << " went down: " << why.get() << '\n';
  try {
    victim.ask(&tally::total).get(5s);
  } catch (const actors::actor_died& e) {
    std::cout << "an ask to it fails at once: " << e.what() << '\n';
  }
  // The same kill under a supervisor: it starts a new process, and the
  // handle it gave out reaches the new instance.
  actors::supervisor sup(actors::supervisor_options().name("demo-supervisor"));
  auto kept = sup.spawn<tally>(actors::in_new_process, actors::child_spec("kept-tally"));
  kept.tell(&tally::add, 5L);
  int old_pid = sup.children().at(0).pid;
  std::cout << "\nsupervised actor " << kept.name() << " (pid " << old_pid << ") holds "
            << kept.ask(&tally::total).get(5s) << "; killing it\n";
  ::kill(old_pid, SIGKILL);
  auto until = std::chrono::steady_clock::now() + 5s;
  while ((sup.children().at(0).pid == old_pid || !sup.children().at(0).running)
         && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  auto info = sup.children().at(0);
  std::cout << "supervisor " << sup.name() << " restarted it (" << info.restarts
            << " restart) after " << (info.last_exit ? info.last_exit->describe() : "?")
            << "; new pid " << info.pid << '\n';
  kept.tell(&tally::add, 7L);
  long kept_total = kept.ask(&tally::total).get(5s);
  std::cout << "the same handle reaches the new instance: it holds " << kept_total
            << " (state starts again from the constructor)\n";
  sup.stop();

  // The same kind of job on a pool: map over 1..20, and a task whose worker
  // is killed while the others go on.
  actors::pool pool(2);
  std::vector<int> numbers(count);
  std::iota(numbers.begin(), numbers.end(), 1);
  auto doomed = pool.apply_async(die_on_purpose, 0);
  auto cubes = pool.map(cube, numbers);
  long cube_sum = std::accumulate(cubes.begin(), cubes.end(), 0L);
  std::cout << "\npool of " << pool.size() << " workers: sum of cubes 1.." << count << " = "
            << cube_sum << " (expected 44100)\n";
  try {
    doomed.get(10s);
  } catch (const actors::worker_died& e) {
    std::cout << "a task's worker died, as planned: " << e.what() << '\n';
  }
  std::cout << "the pool went on: 7^3 = " << pool.apply(cube, 7) << " after " << pool.restarts()
            << " restart(s)\n";
  return sum == 2870 && cube_sum == 44100 && counted.ask(&tally::total).get(5s) == 2870
             && kept_total == 7
           ? 0
           : 1;
}
