#pragma once
// Entry point of the DPDK + lwIP transport for the server: opens the DPDK port, brings up the
// lwIP stack on it, listens on the MQTT port and returns the worker that polls them. Includes
// neither DPDK nor lwIP headers.
#include <cstdint>
#include <expected>
#include <memory>
#include <string>

#include "broker/broker.h"
#include "net/worker_base.h"

namespace musqratt::net::dpdk {

struct DpdkTransportOptions {
  std::string eal_args;           // dpdk_eal_args
  uint16_t port_id = 0;           // dpdk_port
  std::string ip;                 // dpdk_ip
  std::string netmask = "255.255.255.0";
  std::string gateway;            // empty = none
  std::string mac;                // empty = the port's own
  uint16_t mtu = 1500;
  uint16_t tcp_port = 1883;       // from the `listen` setting
  uint32_t idle_sleep_us = 0;     // 0 = busy-poll; else sleep this long when idle
  uint16_t queues = 1;            // dpdk_queues: RX/TX queue pairs, all polled by the one worker
};

/// One worker: one lwIP instance on the DPDK port's `queues` RX/TX queue pairs (it polls every RX
/// queue). Call once per process, from the main thread, before starting the worker.
std::expected<std::unique_ptr<WorkerBase>, std::string> make_dpdk_worker(const DpdkTransportOptions& options,
                                                                         unsigned index, broker::Broker& broker);

}  // namespace musqratt::net::dpdk
