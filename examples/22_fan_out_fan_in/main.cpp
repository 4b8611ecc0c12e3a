// Topology: fan-out / fan-in with a pool.
//
//                 +--> worker --+
//   ranges -------+--> worker --+----> count of primes
//                 +--> worker --+
//
// The parent splits 1..2,000,000 into 40 ranges, the pool counts the primes
// in each (fan-out), and the parent adds the counts up as they finish, in
// whatever order (fan-in), drawing a progress line on stderr.

#include <actors/all.hpp>
#include <iostream>
#include <utility>

using range = std::pair<long, long>;

long count_primes(range r) {
  long count = 0;
  for (long n = std::max(2L, r.first); n < r.second; ++n) {
    bool prime = true;
    for (long d = 2; d * d <= n; ++d)
      if (n % d == 0) {
        prime = false;
        break;
      }
    count += prime;
  }
  return count;
}

int main() {
  actors::node node;
  constexpr long limit = 2'000'000, parts = 40;
  std::vector<range> ranges;
  for (long i = 0; i < parts; ++i)
    ranges.emplace_back(i * limit / parts, (i + 1) * limit / parts);

  actors::pool pool; // one worker per CPU
  long total = 0, arrived = 0;
  for (long c : pool.imap_unordered(count_primes, ranges,
                                    actors::task_options().progress(actors::progress_bar()))) {
    total += c;
    ++arrived;
  }
  std::cout << "fan-out over " << pool.size() << " workers, fan-in of " << arrived
            << " partial counts\n";
  std::cout << "primes below " << limit << ": " << total << " (expected 148933)\n";
  return total == 148933 ? 0 : 1;
}
