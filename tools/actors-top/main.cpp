// actors-top: attaches to a running libactors program through its nodes'
// control endpoints and shows, refreshed like top, its actors (in every
// process of the program), its processes with CPU% and RSS, and its queues,
// pools, threads and locks. On a terminal it draws with ncurses and takes
// keys; otherwise (or with --once, --batch) it prints plain text.

#include "procfs.hpp"
#include "view.hpp"

#include <CLI/CLI.hpp>

#include <curses.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace {

// What to tell a user whose program actors-top cannot see.
const char* control_hint =
  "a libactors program opens its control endpoint with its first actor, queue, pool, thread "
  "or manager; one that only starts processes opens none unless run with ACTORS_CONTROL=on";

volatile std::sig_atomic_t quit = 0;
extern "C" void on_signal(int) {
  quit = 1;
}

const auto query_timeout = std::chrono::milliseconds(2000);

// Plain text: `count` samples (0: until Ctrl-C), every `interval` seconds.
int run_batch(int pid, const std::string& endpoint, int count, double interval, top::order how) {
  std::optional<top::sample> before;
  for (int i = 0; !quit && (count == 0 || i < count); ++i) {
    if (i > 0)
      std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    auto now = top::take_sample(pid, endpoint, query_timeout);
    if (!now) {
      std::cerr << "actors-top: pid " << pid << " stopped answering (it exited)\n";
      return i == 0 ? 1 : 0;
    }
    std::cout << (i > 0 ? "\n" : "") << top::render_all(*now, before ? &*before : nullptr, how)
              << std::flush;
    before = std::move(now);
  }
  return 0;
}

const char* help_line =
  " q quit  1 actors  2 processes  3 queues/pools/threads/locks  tab next view   sort: n name "
  "p pid d depth m msgs/s R restarts c cpu M rss  r reverse";

// Draws `text` (a view) with section titles in bold and their column
// headings in reverse, then the state and the keys on the last line.
// `full` repaints the whole screen (after a key: a new view shares little
// with the old one).
void draw(const std::string& text, const std::string& status, bool full) {
  if (full)
    clear();
  else
    erase();
  int rows = LINES, cols = COLS;
  std::istringstream in(text);
  int y = 0;
  bool after_title = false;
  for (std::string line; y < rows - 1 && std::getline(in, line); ++y) {
    bool is_title = !line.empty() && line[0] != ' ';
    int attr = is_title ? A_BOLD : after_title ? A_REVERSE : A_NORMAL;
    if (attr != A_NORMAL)
      attron(attr);
    mvaddnstr(y, 0, line.c_str(), cols);
    if (attr == A_REVERSE)
      for (int x = static_cast<int>(line.size()); x < cols; ++x)
        mvaddch(y, x, ' ');
    if (attr != A_NORMAL)
      attroff(attr);
    after_title = is_title && y > 0;
  }
  attron(A_REVERSE);
  std::string bottom = status + help_line;
  mvaddnstr(rows - 1, 0, bottom.c_str(), cols);
  attroff(A_REVERSE);
  refresh();
}

// The terminal: a view at a time; keys switch views and sort.
int run_interactive(int pid, const std::string& endpoint, double interval, top::order how) {
  if (!initscr()) {
    std::cerr << "actors-top: cannot use this terminal; try --batch\n";
    return 1;
  }
  cbreak();
  noecho();
  keypad(stdscr, TRUE);
  curs_set(0);
  timeout(100); // getch waits at most 100 ms: Ctrl-C and the refresh stay prompt
  top::view which = top::view::actors;
  std::optional<top::sample> now, before;
  auto next = std::chrono::steady_clock::now();
  std::string gone;
  while (!quit) {
    bool redraw = false;
    if (std::chrono::steady_clock::now() >= next) {
      auto s = top::take_sample(pid, endpoint, query_timeout);
      if (!s) {
        gone = "actors-top: pid " + std::to_string(pid) + " stopped answering (it exited)";
        break;
      }
      before = std::move(now);
      now = std::move(s);
      next = std::chrono::steady_clock::now()
             + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(interval));
      redraw = true;
    }
    int key = getch();
    switch (key) {
      case 'q': case 'Q': quit = 1; break;
      case '1': which = top::view::actors; break;
      case '2': which = top::view::processes; break;
      case '3': which = top::view::other; break;
      case '\t': case KEY_RIGHT:
        which = which == top::view::actors      ? top::view::processes
                : which == top::view::processes ? top::view::other
                                                 : top::view::actors;
        break;
      case KEY_BTAB: case KEY_LEFT:
        which = which == top::view::actors      ? top::view::other
                : which == top::view::processes ? top::view::actors
                                                 : top::view::processes;
        break;
      case 'n': how.key = top::sort_key::name; break;
      case 'p': how.key = top::sort_key::pid; break;
      case 'd': how.key = top::sort_key::depth; break;
      case 'm': how.key = top::sort_key::rate; break;
      case 'R': how.key = top::sort_key::restarts; break;
      case 'c': how.key = top::sort_key::cpu; break;
      case 'M': how.key = top::sort_key::rss; break;
      case 'r': how.reverse = !how.reverse; break;
      default: break;
    }
    redraw = redraw || key != ERR;
    if (redraw && now && !quit) {
      std::string status = std::string(" [") + top::to_string(which) + ", sort " +
                           top::to_string(how.key) + (how.reverse ? " reversed" : "") + "] ";
      draw(top::render(*now, before ? &*before : nullptr, which, how), status, key != ERR);
    }
  }
  endwin();
  if (!gone.empty())
    std::cerr << gone << '\n';
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"actors-top: watches a running libactors program: its actors, processes (CPU%, "
               "RSS), queues, pools, threads and locks, refreshed like top. On a terminal, keys "
               "switch views (1 2 3, tab) and sort (n p d m R c M, r reverses); q quits"};
  int pid = 0, count = 0;
  bool once = false, batch = false, list = false;
  double interval = 1.0;
  std::string sort = "none";
  app.add_option("pid", pid, "the program's main process (default: the only one running)");
  app.add_flag("--once", once, "print one snapshot as text and exit (rates show n/a)");
  app.add_flag("-b,--batch", batch, "print snapshots as text, as when stdout is not a terminal");
  app.add_option("-n,--iterations", count, "stop after this many snapshots (0: until Ctrl-C)")
    ->check(CLI::NonNegativeNumber);
  app.add_option("--sort", sort, "sort rows by name, pid, depth, rate, restarts, cpu or rss")
    ->check([](const std::string& s) {
      return top::parse_sort_key(s) ? std::string() : "not a sort key: " + s;
    });
  app.add_flag("--list", list, "list the running libactors programs and exit");
  app.add_option("--interval", interval, "seconds between refreshes")->check(CLI::Range(0.1, 60.0));
  CLI11_PARSE(app, argc, argv);
  top::order how{*top::parse_sort_key(sort), false};

  auto nodes = top::find_nodes();
  // A program is a node whose process descends from no other node's (the
  // children that host actors run nodes of their own).
  auto tree = top::parents();
  std::map<int, std::string> programs;
  for (auto& [p, path] : nodes)
    if (!top::has_ancestor_in(p, nodes, tree))
      programs[p] = path;
  if (list) {
    if (programs.empty())
      std::cerr << "actors-top: no libactors program with a control endpoint is running ("
                << control_hint << ")\n";
    else
      std::cout << std::left << std::setw(9) << "pid" << std::setw(17) << "name"
                << std::setw(7) << "procs" << "command\n";
    for (auto& [p, path] : programs)
      std::cout << std::left << std::setw(9) << p << std::setw(17) << top::program_of(p)
                << std::setw(7) << top::family(p, tree).size() << top::command_of(p) << '\n';
    return 0;
  }
  if (pid == 0) {
    if (programs.size() != 1) {
      if (programs.empty())
        std::cerr << "actors-top: no libactors program with a control endpoint is running ("
                  << control_hint << ")\n";
      else
        std::cerr << "actors-top: " << programs.size()
                  << " libactors programs are running; name one by pid (see --list)\n";
      return 2;
    }
    pid = programs.begin()->first;
  }
  auto it = nodes.find(pid);
  if (it == nodes.end()) {
    if (::kill(pid, 0) != 0 && errno == ESRCH)
      std::cerr << "actors-top: no process has pid " << pid << " (see --list)\n";
    else
      std::cerr << "actors-top: pid " << pid << " (" << top::name_of(pid)
                << ") has no libactors control endpoint: it is not a libactors program's main "
                   "process, or it has not opened the endpoint yet ("
                << control_hint << ")\n";
    return 2;
  }
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  if (once)
    return run_batch(pid, it->second, 1, interval, how);
  if (batch || count > 0 || !::isatty(STDOUT_FILENO) || !::isatty(STDIN_FILENO))
    return run_batch(pid, it->second, count, interval, how);
  return run_interactive(pid, it->second, interval, how);
}
