// Topology: map-reduce word count.
//
//   corpus files --map (pool: one file each)--> partial counts
//                --reduce (parent)--> total counts, top words
//
// The example first writes its corpus: 16 files of pseudo-random words from
// a small vocabulary, with a known number of words in all.

#include <actors/all.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

using counts = std::map<std::string, long>;

const std::vector<std::string> vocabulary{"actor", "process", "queue", "pipe",  "lock",
                                          "pool",  "future",  "event", "value", "node"};

// map: the words of one file.
counts count_words(std::string path) {
  std::ifstream in(path);
  counts c;
  for (std::string w; in >> w;)
    ++c[w];
  return c;
}

int main() {
  actors::node node;
  char tmpl[] = "/tmp/actors-corpus-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::mt19937 rng(2026);
  std::vector<std::string> files;
  long written = 0;
  for (int f = 0; f < 16; ++f) {
    files.push_back(dir + "/part-" + std::to_string(f) + ".txt");
    std::ofstream out(files.back());
    for (int line = 0; line < 2000; ++line) {
      int words = 5 + static_cast<int>(rng() % 10);
      for (int w = 0; w < words; ++w)
        out << vocabulary[rng() % vocabulary.size()] << (w + 1 < words ? ' ' : '\n');
      written += words;
    }
  }

  actors::pool pool;
  auto partial = pool.map(count_words, files, 1); // map
  counts total;                                   // reduce
  for (auto& c : partial)
    for (auto& [w, n] : c)
      total[w] += n;

  std::vector<std::pair<std::string, long>> top(total.begin(), total.end());
  std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second > b.second; });
  long counted = 0;
  for (auto& [w, n] : total)
    counted += n;
  std::cout << "corpus: " << files.size() << " files, " << written << " words written\n";
  std::cout << "counted " << counted << " words, " << total.size() << " distinct; top 3:\n";
  for (std::size_t i = 0; i < 3 && i < top.size(); ++i)
    std::cout << "  " << top[i].first << ' ' << top[i].second << '\n';
  for (auto& f : files)
    std::remove(f.c_str());
  ::rmdir(dir.c_str());
  return counted == written ? 0 : 1;
}
