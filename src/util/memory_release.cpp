#include "util/memory_release.h"

#include <cstdlib>  // defines __GLIBC__ where it applies (through <features.h>)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

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

void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace musqratt::util
