#include "net/dpdk/lwip_worker.h"

#include <sys/prctl.h>
#include <time.h>

#include <algorithm>
#include <cstring>

extern "C" {
#include "lwip/ip.h"
#include "lwip/ip4_addr.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
}

#include "net/dpdk/dpdk_port.h"
#include "net/dpdk/dpdk_transport.h"
#include "net/mqtt_endpoint.h"
#include "util/log.h"

namespace musqratt::net::dpdk {

namespace {
LwipWorker* g_worker = nullptr;  // lwIP is one instance per process, so is this worker

void* token_arg(uint64_t token) { return reinterpret_cast<void*>(static_cast<uintptr_t>(token)); }

constexpr unsigned kSpinTurnsBeforeSleep = 1000;
constexpr u32_t kKeepIdleMs = 60'000;
constexpr u32_t kKeepIntervalMs = 10'000;
constexpr u32_t kKeepCount = 6;
}  // namespace

LwipWorker::LwipWorker(unsigned index, broker::Broker& broker, std::unique_ptr<PacketIo> io,
                       std::unique_ptr<LwipStack> stack, uint32_t idle_sleep_us)
    : ConnectionDriver(index, broker), io_(std::move(io)), stack_(std::move(stack)), idle_sleep_us_(idle_sleep_us) {
  g_worker = this;
}

LwipWorker::~LwipWorker() {
  join();
  if (listener_ != nullptr) tcp_close(listener_);
  stack_.reset();
  io_.reset();
  g_worker = nullptr;
}

std::string LwipWorker::listen(uint16_t port, EndpointFactory make_endpoint) {
  // lwIP has no kernel sockets: the accepted-socket options have nothing to tune here.
  listener_spec_ = Listener{-1, "mqtt, tcp over lwIP", std::move(make_endpoint), AcceptedSocketOptions{0}};
  tcp_pcb* pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
  if (pcb == nullptr) return "lwip: tcp_new failed";
  if (err_t e = tcp_bind(pcb, IP4_ADDR_ANY, port); e != ERR_OK) {
    tcp_close(pcb);
    return "lwip: bind to port " + std::to_string(port) + " failed: error " + std::to_string(e);
  }
  listener_ = tcp_listen_with_backlog(pcb, TCP_DEFAULT_LISTEN_BACKLOG);
  if (listener_ == nullptr) return "lwip: listen failed";
  tcp_arg(listener_, this);
  tcp_accept(listener_, &LwipWorker::on_accept);
  return {};
}

void LwipWorker::notify() { mail_.store(true, std::memory_order_release); }

LwipWorker::Connection* LwipWorker::find_arg(void* arg) {
  return find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg)));
}

err_t LwipWorker::on_accept(void* arg, tcp_pcb* pcb, err_t err) {
  auto* self = static_cast<LwipWorker*>(arg);
  if (err != ERR_OK || pcb == nullptr) return ERR_VAL;
  uint64_t token = self->next_token();
  char ip[IP4ADDR_STRLEN_MAX];
  std::string peer = std::string(ip4addr_ntoa_r(ip_2_ip4(&pcb->remote_ip), ip, sizeof ip)) + ":" +
                     std::to_string(pcb->remote_port);
  LOG_DEBUG("worker %u: accepted connection from %s (lwip)", self->index_, peer.c_str());
  tcp_arg(pcb, token_arg(token));
  tcp_recv(pcb, &LwipWorker::on_recv);
  tcp_sent(pcb, &LwipWorker::on_sent);
  tcp_err(pcb, &LwipWorker::on_err);
  tcp_nagle_disable(pcb);
  ip_set_option(pcb, SOF_KEEPALIVE);
  pcb->keep_idle = kKeepIdleMs;
  pcb->keep_intvl = kKeepIntervalMs;
  pcb->keep_cnt = kKeepCount;
  self->add(token, LwipIo{pcb, false, false}, self->listener_spec_, std::move(peer), self->now_);
  return ERR_OK;
}

err_t LwipWorker::on_recv(void* arg, tcp_pcb* pcb, pbuf* p, err_t /*err*/) {
  LwipWorker* self = g_worker;
  Connection* c = self->find_arg(arg);
  if (c == nullptr || c->released) {  // not ours any more: drop the data
    if (p != nullptr) {
      tcp_recved(pcb, p->tot_len);
      pbuf_free(p);
    }
    return ERR_OK;
  }
  if (p == nullptr) {  // FIN: closed after this turn's writes
    if (!c->io.peer_closed) {
      c->io.peer_closed = true;
      self->peer_closed_.push_back(c->token);
    }
    return ERR_OK;
  }
  for (pbuf* q = p; q != nullptr; q = q->next)
    self->received(*c, {static_cast<const uint8_t*>(q->payload), q->len}, self->now_);
  tcp_recved(pcb, p->tot_len);
  pbuf_free(p);
  return ERR_OK;
}

err_t LwipWorker::on_sent(void* arg, tcp_pcb* /*pcb*/, u16_t /*len*/) {
  LwipWorker* self = g_worker;
  if (Connection* c = self->find_arg(arg); c != nullptr && c->top && !c->top->pending_output().empty())
    self->mark_dirty(*c);
  return ERR_OK;
}

void LwipWorker::on_err(void* arg, err_t err) {
  // The pcb is already freed (RST, retransmission timeout, out of memory).
  LwipWorker* self = g_worker;
  Connection* c = self->find_arg(arg);
  if (c == nullptr) return;
  LOG_DEBUG("worker %u: connection lost: lwIP error %d", self->index_, static_cast<int>(err));
  c->io.pcb = nullptr;
  self->ended(*c, self->now_);
}

std::optional<size_t> LwipWorker::write_some(Connection& c, std::string_view out) {
  if (c.io.pcb == nullptr) return std::nullopt;
  size_t room = tcp_sndbuf(c.io.pcb);
  if (room == 0 || tcp_sndqueuelen(c.io.pcb) >= TCP_SND_QUEUELEN - 2) return 0;  // tcp_sent resumes
  size_t n = std::min({out.size(), room, size_t{0xFFFF}});
  u8_t flags = TCP_WRITE_FLAG_COPY | (n < out.size() ? TCP_WRITE_FLAG_MORE : 0);
  err_t e = tcp_write(c.io.pcb, out.data(), static_cast<u16_t>(n), flags);
  if (e == ERR_MEM) return 0;  // segment queue full: the rest stays with the Endpoint
  if (e != ERR_OK) return std::nullopt;
  if (!c.io.needs_output) {
    c.io.needs_output = true;
    to_output_.push_back(c.token);
  }
  return n;
}

bool LwipWorker::release(Connection& c) {
  if (tcp_pcb* pcb = c.io.pcb; pcb != nullptr) {
    c.io.pcb = nullptr;
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);  // lwIP's default then discards late data and finishes the close
    tcp_sent(pcb, nullptr);
    tcp_err(pcb, nullptr);
    // tcp_close sends FIN after the data already queued; lwIP keeps retransmitting that data.
    if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
  }
  return true;
}

void LwipWorker::run() {
  io_->attach_thread();
  prctl(PR_SET_TIMERSLACK, 1000UL);  // idle sleeps of a few microseconds stay that short
  std::vector<uint64_t> inbox_swap;
  unsigned idle_turns = 0;
  while (!stop_requested()) {
    now_ = util::now();
    unsigned rx = stack_->poll_rx();  // TCP callbacks run from here
    if (mail_.load(std::memory_order_relaxed) && mail_.exchange(false, std::memory_order_acquire)) {
      take_inbox(inbox_swap);
      process_wakes(inbox_swap, now_);
      inbox_swap.clear();
    }
    run_local_work(now_);
    stack_->check_timeouts();
    bool busy = rx != 0 || !peer_closed_.empty();
    flush_dirty(now_);
    for (uint64_t t : peer_closed_)
      if (Connection* c = find(t)) ended(*c, now_);
    peer_closed_.clear();
    // One tcp_output per written connection per turn, then one TX burst for all of them.
    if (!to_output_.empty()) busy = true;
    for (uint64_t t : to_output_) {
      Connection* c = find(t);
      if (c == nullptr) continue;
      c->io.needs_output = false;
      if (c->io.pcb != nullptr) tcp_output(c->io.pcb);
    }
    to_output_.clear();
    if (stack_->flush_tx() != 0) busy = true;
    flush_remote_wakes();
    if (busy) {
      idle_turns = 0;
    } else if (idle_sleep_us_ != 0 && ++idle_turns >= kSpinTurnsBeforeSleep) {
      timespec ts{0, static_cast<long>(idle_sleep_us_) * 1000};
      nanosleep(&ts, nullptr);
    }
  }
  now_ = util::now();
  shutdown_connections(now_);  // what did not fit in the send buffer is dropped
  stop_stack();
}

void LwipWorker::stop_stack() {
  if (listener_ != nullptr) {
    tcp_close(listener_);
    listener_ = nullptr;
  }
  stack_->flush_tx();
  // Keep the stack running briefly so the final data and FINs are delivered and acknowledged.
  util::TimePoint deadline = util::now() + util::Millis(1000);
  while (tcp_active_pcbs != nullptr && util::now() < deadline) {
    stack_->poll_rx();
    stack_->check_timeouts();
    stack_->flush_tx();
  }
  PacketIoCounters k = io_->counters();
  LOG_INFO("worker %u: dpdk port: %llu frames received, %llu sent, %llu dropped on send; driver: %llu missed, "
           "%llu rx errors, %llu tx errors",
           index_, static_cast<unsigned long long>(k.rx_frames), static_cast<unsigned long long>(k.tx_frames),
           static_cast<unsigned long long>(k.tx_dropped), static_cast<unsigned long long>(k.rx_missed),
           static_cast<unsigned long long>(k.rx_errors), static_cast<unsigned long long>(k.tx_errors));
  if (k.rx_queue_frames.size() > 1) {
    std::string per_queue;
    for (size_t q = 0; q < k.rx_queue_frames.size(); ++q)
      per_queue += (q ? ", " : "") + std::to_string(q) + ": " + std::to_string(k.rx_queue_frames[q]);
    LOG_INFO("worker %u: dpdk port: frames received per rx queue: %s", index_, per_queue.c_str());
  }
  LOG_INFO("worker %u: lwip: %s", index_, stack_->stats().c_str());
}

std::expected<std::unique_ptr<WorkerBase>, std::string> make_dpdk_worker(const DpdkTransportOptions& o, unsigned index,
                                                                         broker::Broker& broker) {
  if (g_worker != nullptr) return std::unexpected("dpdk: one worker per process (one lwIP instance)");
  DpdkPortOptions po;
  po.eal_args = o.eal_args;
  po.port_id = o.port_id;
  po.mtu = o.mtu;
  po.queues = o.queues;
  if (!o.mac.empty()) {
    po.mac = parse_mac(o.mac);
    if (!po.mac) return std::unexpected("dpdk_mac: expected aa:bb:cc:dd:ee:ff, got '" + o.mac + "'");
  }
  if (o.mtu < 576 || o.mtu > 9000) return std::unexpected("dpdk_mtu: expected 576 to 9000");
  if (o.ip.empty()) return std::unexpected("dpdk_ip is required with transport = \"dpdk\"");
  auto io = open_dpdk_port(po);
  if (!io) return std::unexpected(io.error());
  auto stack = LwipStack::create(**io, LwipStackOptions{o.ip, o.netmask, o.gateway});
  if (!stack) return std::unexpected(stack.error());
  std::string addr = (*stack)->address();
  auto w = std::make_unique<LwipWorker>(index, broker, std::move(*io), std::move(*stack), o.idle_sleep_us);
  if (std::string err = w->listen(o.tcp_port, mqtt_endpoints(broker)); !err.empty()) return std::unexpected(err);
  LOG_INFO("listening on %s:%u (mqtt, tcp over lwIP on DPDK port %u)", addr.c_str(), o.tcp_port, o.port_id);
  return w;
}

}  // namespace musqratt::net::dpdk
