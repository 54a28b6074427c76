#include "util/memory_release.h"

#include <cstdlib>  // defines __GLIBC__ where it applies (through <features.h>)
#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace musqratt::util {

void release_free_memory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace musqratt::util
