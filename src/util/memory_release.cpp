#include "util/memory_release.h"

#include <atomic>
#include <cstdint>

#include <cstdlib>  // defines __GLIBC__ where it applies (through <features.h>)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// mimalloc's own collection, when the broker is linked with it (MUSQRATT_ALLOCATOR): declared
// weak, so this layer needs no mimalloc to build and the call is skipped where it is absent.
extern "C" void mi_collect(bool force) __attribute__((weak));

namespace musqratt::util {

void keep_large_blocks_apart() {
#if defined(__GLIBC__)
  // glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB),
  // after which large packet buffers come from the heap and, once freed, stay in it between
  // smaller blocks where malloc_trim cannot give them back. A fixed threshold keeps every
  // block of 1 MiB or more in a mapping of its own, returned to the system when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
}

namespace {
std::atomic<uint64_t> g_release_requests{0};
thread_local uint64_t t_release_seen = 0;
constexpr int kSecondPassAfter = 20;  // calls (worker ticks: 1 to 5 s)
thread_local int t_second_pass_in = 0;
}  // namespace

void release_free_memory() {
  g_release_requests.fetch_add(1, std::memory_order_relaxed);  // the other threads' heaps
  if (mi_collect) mi_collect(true);  // this thread's heap: frees its caches, returns unused pages
#if defined(__GLIBC__)
  malloc_trim(0);  // what is still served by glibc (everything, without mimalloc)
#endif
}

void release_free_memory_if_asked() {
  if (!mi_collect) return;  // glibc's arenas are all trimmed by release_free_memory()
  const uint64_t asked = g_release_requests.load(std::memory_order_relaxed);
  if (asked != t_release_seen) {
    t_release_seen = asked;
    t_second_pass_in = kSecondPassAfter;
    mi_collect(true);
    return;
  }
  // Once more a little later: blocks other threads freed after the first pass (a queue is
  // often freed while the request is on its way) would otherwise wait for the next request.
  if (t_second_pass_in && --t_second_pass_in == 0) mi_collect(true);
}

}  // namespace musqratt::util
