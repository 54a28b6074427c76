#pragma once
// The worker of the DPDK + lwIP transport: one thread polling the port, running lwIP's timers
// and driving one broker::SessionDriver per lwIP TCP pcb through the raw API.
#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "net/connection_driver.h"
#include "net/dpdk/lwip_stack.h"
#include "net/dpdk/packet_io.h"
#include "net/listener.h"

struct tcp_pcb;
struct pbuf;

namespace musqratt::net::dpdk {

/// A connection's lwIP state.
struct LwipIo {
  tcp_pcb* pcb = nullptr;
  bool peer_closed = false;   // FIN received: closed after this turn's writes
  bool needs_output = false;  // tcp_write'd this turn: tcp_output at the end of the turn
};

/// Thread: everything but the WorkerBase wake API runs on the worker's own thread.
class LwipWorker final : public ConnectionDriver<LwipWorker, LwipIo> {
 public:
  LwipWorker(unsigned index, broker::Broker& broker, std::unique_ptr<PacketIo> io, std::unique_ptr<LwipStack> stack,
             uint32_t idle_sleep_us);
  ~LwipWorker() override;

  /// Opens the listening pcb, whose connections get what `make_endpoint` builds. Call before start().
  std::string listen(uint16_t port, EndpointFactory make_endpoint);

  // The transport's part of ConnectionDriver.
  std::optional<size_t> write_some(Connection& c, std::string_view bytes);
  std::optional<size_t> write_final(Connection& c, std::string_view bytes) { return write_some(c, bytes); }
  bool drained(const Connection&) const { return true; }  // lwIP keeps and retransmits what it took
  void set_write_interest(Connection&, bool) {}           // tcp_sent marks the connection dirty
  bool shutdown_write(Connection&) { return false; }      // tcp_close already sends FIN after the data
  bool release(Connection& c);

 protected:
  void run() override;
  void notify() override;

 private:
  // lwIP raw API callbacks; `arg` is the worker for the listener, the connection token otherwise.
  static int8_t on_accept(void* arg, tcp_pcb* pcb, int8_t err);
  static int8_t on_recv(void* arg, tcp_pcb* pcb, pbuf* p, int8_t err);
  static int8_t on_sent(void* arg, tcp_pcb* pcb, uint16_t len);
  static void on_err(void* arg, int8_t err);

  Connection* find_arg(void* arg);
  void stop_stack();

  std::unique_ptr<PacketIo> io_;
  std::unique_ptr<LwipStack> stack_;
  const uint32_t idle_sleep_us_;
  tcp_pcb* listener_ = nullptr;
  Listener listener_spec_;
  util::TimePoint now_{};
  std::atomic<bool> mail_{false};
  std::vector<uint64_t> to_output_;
  std::vector<uint64_t> peer_closed_;
};

}  // namespace musqratt::net::dpdk
