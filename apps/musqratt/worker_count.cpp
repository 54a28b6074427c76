#include "worker_count.h"

#include <sched.h>

#include <thread>

namespace musqratt::app {

unsigned usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return static_cast<unsigned>(CPU_COUNT(&set));
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

unsigned default_workers(unsigned cpus) { return cpus > 1 ? cpus - 1 : 1; }

}  // namespace musqratt::app
