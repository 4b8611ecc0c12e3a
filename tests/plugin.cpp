// Loaded with dlopen() by process_test: a target in a module that forkserver
// and spawn children do not have.
#include <unistd.h>

extern "C" void plugin_target(int code) {
  _exit(code);
}
