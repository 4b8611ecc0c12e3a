// Lock acquire+release, uncontended and contended by two processes, and
// shared-value increments from two processes; beside Python's
// multiprocessing.Lock / Value and a bare robust process-shared pthread mutex.

#include "harness.hpp"

#include <actors/all.hpp>

#include <chrono>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

using clock_type = std::chrono::steady_clock;

void lock_loop(actors::mutex m, actors::event go, long n) {
  go.wait();
  for (long i = 0; i < n; ++i) {
    m.acquire();
    m.release();
  }
}

void incr_loop(actors::value<long> v, actors::event go, long n) {
  go.wait();
  for (long i = 0; i < n; ++i)
    v.fetch_add(1);
}

// Runs `body(n)` in `procs` processes started together; operations per second.
template <class Start>
double across_processes(int procs, long n, Start start_one) {
  actors::event go;
  std::vector<actors::process> ps;
  for (int i = 0; i < procs; ++i)
    ps.push_back(start_one(go, n));
  for (auto& p : ps)
    p.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(20)); // all waiting
  auto t0 = clock_type::now();
  go.set();
  for (auto& p : ps)
    p.join();
  return procs * n / std::chrono::duration<double>(clock_type::now() - t0).count();
}

// The raw baseline: a robust, process-shared pthread mutex in a shared
// anonymous mapping, hammered by `procs` forked processes.
double raw_mutex(int procs, long n) {
  void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  auto* m = static_cast<pthread_mutex_t*>(mem);
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(m, &a);
  auto* go = reinterpret_cast<std::atomic<int>*>(static_cast<char*>(mem) + 2048);
  go->store(0);
  std::vector<int> pids;
  for (int i = 0; i < procs; ++i) {
    int pid = ::fork();
    if (pid == 0) {
      while (go->load() == 0) {
      }
      for (long k = 0; k < n; ++k) {
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto t0 = clock_type::now();
  go->store(1);
  for (int pid : pids)
    ::waitpid(pid, nullptr, 0);
  double rate = procs * n / std::chrono::duration<double>(clock_type::now() - t0).count();
  ::munmap(mem, 4096);
  return rate;
}

} // namespace

int main(int argc, char** argv) {
  actors::node node;
  bench::init(argc, argv);
  auto py = bench::run_python("mp_sync.py");
  long n = bench::quick() ? 1'000'000 : 5'000'000;


  // Timed as one loop, like the raw baseline: a clock read per call would
  // cost as much as the call. Raw and libactors in alternating rounds.
  actors::mutex m;
  auto [raw1, uncontended] = bench::measure_pair([&] { return raw_mutex(1, n); }, [&] {
    return n / bench::seconds([&] {
      for (long i = 0; i < n; ++i) {
        m.acquire();
        m.release();
      }
    });
  });
  bench::emit("lock.uncontended", uncontended, "ops/s", bench::lookup(py, "lock_uncontended"),
              raw1.median, {});
  auto [raw2, contended] = bench::measure_pair([&] { return raw_mutex(2, n); }, [&] {
    return across_processes(2, n, [&](actors::event go, long count) {
      return actors::process(lock_loop, m, go, count);
    });
  });
  bench::emit("lock.contended", contended, "ops/s", bench::lookup(py, "lock_contended"),
              raw2.median, {});
  auto incr = bench::measure([&] {
    actors::value<long> v(0);
    double rate = across_processes(2, n, [&](actors::event go, long count) {
      return actors::process(incr_loop, v, go, count);
    });
    bench::check(v.load() == 2 * n, "value.incr: lost increments");
    return rate;
  });
  bench::emit("value.incr", incr, "increments/s", bench::lookup(py, "value_incr"), std::nullopt, {});

  // A manager's dict: one request/reply round trip per call, as in Python.
  actors::manager mgr;
  auto d = mgr.dict<long, long>();
  long calls = bench::quick() ? 5'000 : 50'000;
  auto sets = bench::measure([&] {
    return calls / bench::seconds([&] {
      for (long i = 0; i < calls; ++i)
        d.set(i % 1000, i);
    });
  });
  bench::emit("manager.dict_set", sets, "ops/s", bench::lookup(py, "manager_dict_set"),
              std::nullopt, {});
}
