#pragma once
// Which heap allocator the broker runs on (see MUSQRATT_ALLOCATOR in CMakeLists.txt), for the
// start-up log line and --version.
#include <string>

namespace musqratt::app {

/// "mimalloc 2.0.9" or "glibc malloc".
std::string allocator_name();

}  // namespace musqratt::app
