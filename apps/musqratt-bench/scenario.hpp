// Scenario driver: builds the clients of a scenario, spreads them over the generator
// threads and steps every thread through the phases, then gathers the figures.
#pragma once
#include <cstdint>
#include <string>

#include "client.hpp"
#include "options.hpp"

namespace mqb {

struct Results {
  uint64_t sent = 0, completed = 0, expected = 0, delivered = 0, received = 0, lost = 0;
  uint64_t dup = 0, out_of_order = 0, unexpected = 0;
  uint64_t connect_errors = 0, publish_errors = 0, disconnects = 0;
  uint64_t connections = 0;
  double publish_s = 0, duration_s = 0, drain_s = 0;
  double msgs_per_s = 0, deliveries_per_s = 0;
  double connect_time_s = 0, connect_rate = 0;
  Histogram latency, connect;
  std::string error;  // fatal setup error, empty if none
};

Results run_scenario(const Options& o);

}  // namespace mqb
