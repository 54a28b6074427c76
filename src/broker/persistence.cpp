#include "broker/persistence.h"

namespace musqratt::broker {

int64_t wall_ms_from(util::TimePoint t) {
  auto wall = std::chrono::system_clock::now() + std::chrono::duration_cast<std::chrono::system_clock::duration>(t - util::now());
  return std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
}

util::TimePoint steady_from_wall_ms(int64_t wall_ms) {
  auto now_wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  return util::now() + std::chrono::milliseconds(wall_ms - now_wall);
}

}  // namespace musqratt::broker
