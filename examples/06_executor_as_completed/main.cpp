// Seed 001, part 3: a process pool executor fetches several sources at once
// and reports each as it completes. The seed fetched web pages; with no
// network here, the sources are local files this example writes first (one
// of them missing, so an error arrives through its future).

#include <actors/all.hpp>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

// Reads a whole file, as load_url read a whole page.
std::string load_file(std::string path, int timeout_seconds) {
  (void) timeout_seconds;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

int main() {
  actors::node node;
  char tmpl[] = "/tmp/actors-example-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::vector<std::string> sources;
  for (int kb : {4, 16, 64}) {
    sources.push_back(dir + "/page-" + std::to_string(kb) + "k.html");
    std::ofstream(sources.back()) << std::string(static_cast<std::size_t>(kb) * 1024, 'x');
  }
  sources.push_back(dir + "/missing.html");

  {
    actors::process_pool_executor executor(4);
    std::vector<actors::future<std::string>> futures;
    for (auto& s : sources)
      futures.push_back(executor.submit(load_file, s, 60));
    for (auto& future : actors::as_completed(futures)) {
      auto& source = sources[static_cast<std::size_t>(
        std::find(futures.begin(), futures.end(), future) - futures.begin())];
      try {
        std::cout << source << " page is " << future.result().size() << " bytes\n";
      } catch (const actors::error& exc) {
        std::cout << source << " generated an exception: " << exc.what() << '\n';
      }
    }
  }
  for (auto& s : sources)
    std::remove(s.c_str());
  ::rmdir(dir.c_str());
}
