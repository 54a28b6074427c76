#pragma once
// The worker of the DPDK + lwIP transport: one thread polling the port, running lwIP's timers
// and driving one broker::SessionDriver per lwIP TCP pcb through the raw API.
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "broker/broker.h"
#include "broker/session_driver.h"
#include "net/dpdk/lwip_stack.h"
#include "net/dpdk/packet_io.h"
#include "net/worker_base.h"

struct tcp_pcb;
struct pbuf;

namespace musqratt::net::dpdk {

/// Thread: everything but the WorkerBase wake API runs on the worker's own thread.
class LwipWorker : public WorkerBase {
 public:
  LwipWorker(unsigned index, broker::Broker& broker, std::unique_ptr<PacketIo> io, std::unique_ptr<LwipStack> stack,
             uint32_t idle_sleep_us);
  ~LwipWorker() override;

  /// Opens the listening pcb. Call before start().
  std::string listen(uint16_t port);

 protected:
  void run() override;
  void notify() override;

 private:
  struct Connection {
    tcp_pcb* pcb = nullptr;
    uint64_t token = 0;
    bool dirty = false;        // visit in this turn's flush phase
    bool peer_closed = false;  // FIN received
    bool needs_output = false; // tcp_write'd this turn: tcp_output at the end of the turn
    std::unique_ptr<broker::SessionDriver> handler;
  };

  // lwIP raw API callbacks; `arg` is the worker for the listener, the connection token otherwise.
  static int8_t on_accept(void* arg, tcp_pcb* pcb, int8_t err);
  static int8_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, int8_t err);
  static int8_t on_sent(void* arg, tcp_pcb* pcb, uint16_t len);
  static void on_err(void* arg, int8_t err);

  Connection* find(void* arg);
  void mark_dirty(Connection& c);
  /// Writes pending output into lwIP; closes the connection if it is done. False if closed.
  bool flush(Connection& c);
  void close_connection(Connection& c, bool abort);
  void process_wakes(std::vector<uint64_t>& tokens, util::TimePoint now) override;
  void tick(util::TimePoint now) override;
  void shutdown_connections();

  std::unique_ptr<PacketIo> io_;
  std::unique_ptr<LwipStack> stack_;
  const uint32_t idle_sleep_us_;
  tcp_pcb* listener_ = nullptr;
  util::TimePoint now_{};
  std::atomic<bool> mail_{false};
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::vector<uint64_t> dirty_;
  std::vector<uint64_t> to_output_;
};

}  // namespace musqratt::net::dpdk
