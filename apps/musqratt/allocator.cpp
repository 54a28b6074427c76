#include "allocator.h"

#ifdef MUSQRATT_HAVE_MIMALLOC
#include <mimalloc.h>
#endif

namespace musqratt::app {

std::string allocator_name() {
#ifdef MUSQRATT_HAVE_MIMALLOC
  // mi_version() is MAJOR*100 + MINOR*10 + PATCH (209 for 2.0.9).
  const int v = mi_version();
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10);
#else
  return "glibc malloc";
#endif
}

}  // namespace musqratt::app
