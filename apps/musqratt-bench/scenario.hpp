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
  bool drain_cut = false;  // --drain-max ended the drain while deliveries were still arriving
  double msgs_per_s = 0, deliveries_per_s = 0;
  double connect_time_s = 0, connect_rate = 0;
  // The measured window: with --warmup the last --duration seconds of publishing, else from the
  // start of publishing to its end (--duration) or to the end of the drain (--count).
  double window_s = 0;
  uint64_t window_delivered = 0;
  double generator_cpu_s = 0;   // this process, all threads, over the window
  // --broker-pid: the broker's CPU time over the window and its RSS (KiB) before publishing and
  // at the window's end; -1 when not sampled.
  double broker_cpu_s = -1;
  int64_t broker_rss_before_kb = -1, broker_rss_kb = -1, broker_hwm_kb = -1;
  // queue: bytes the subscribers' connections hold in kernel queues (-1 unknown) and the size
  // of one queued PUBLISH packet, so messages held by the broker = sent - kernel / packet.
  int64_t kernel_queued_bytes = -1;
  uint64_t packet_bytes = 0;
  Histogram latency, connect;
  std::string error;  // fatal setup error, empty if none
};

Results run_scenario(const Options& o);

}  // namespace mqb
