#include "net/dpdk/dpdk_port.h"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <cstdio>
#include <cstring>
#include <sstream>
#include <vector>

#include "util/log.h"

namespace musqratt::net::dpdk {
namespace {

constexpr uint16_t kRxDesc = 1024;
constexpr uint16_t kTxDesc = 1024;
constexpr unsigned kMbufs = 8191;  // ~19 MB: fits the 64 MB that --no-huge gives by default
constexpr unsigned kMbufCache = 256;
constexpr unsigned kTxBurst = 32;

bool g_eal_ready = false;

std::vector<std::string> split_args(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  bool in_quote = false;
  char quote = 0;
  bool have = false;
  for (char ch : text) {
    if (in_quote) {
      if (ch == quote) in_quote = false;
      else cur.push_back(ch);
    } else if (ch == '"' || ch == '\'') {
      in_quote = true;
      quote = ch;
      have = true;
    } else if (ch == ' ' || ch == '\t' || ch == '\n') {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur.push_back(ch);
      have = true;
    }
  }
  if (have) out.push_back(cur);
  return out;
}

std::string rte_error(int err) { return rte_strerror(err < 0 ? -err : err); }

class DpdkPort final : public PacketIo {
 public:
  DpdkPort(uint16_t port, rte_mempool* pool, MacAddress mac, uint16_t mtu)
      : port_(port), pool_(pool), mac_(mac), mtu_(mtu) {}
  ~DpdkPort() override {
    tx_flush();
    rte_eth_dev_stop(port_);
    rte_eth_dev_close(port_);
  }

  void attach_thread() override {
    // An lcore id gives this thread a mempool cache; harmless if it fails (no free lcore).
    if (rte_lcore_id() == LCORE_ID_ANY && rte_thread_register() != 0)
      LOG_WARN("dpdk: rte_thread_register failed: %s (mempool without per-thread cache)", rte_error(rte_errno).c_str());
  }

  unsigned rx_burst(RxFrame* out, unsigned max) override {
    rte_mbuf* bufs[64];
    if (max > 64) max = 64;
    uint16_t n = rte_eth_rx_burst(port_, 0, bufs, static_cast<uint16_t>(max));
    unsigned kept = 0;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = bufs[i];
      if (m->nb_segs != 1) {
        // Scattered RX is not enabled, so this does not happen with the MTUs we configure.
        rte_pktmbuf_free(m);
        continue;
      }
      out[kept].data = rte_pktmbuf_mtod(m, const uint8_t*);
      out[kept].len = rte_pktmbuf_data_len(m);
      out[kept].handle = m;
      ++kept;
    }
    counters_.rx_frames += kept;
    return kept;
  }

  void release_rx(RxFrame* frames, unsigned n) override {
    rte_mbuf* bufs[64];
    unsigned k = 0;
    for (unsigned i = 0; i < n; ++i) {
      bufs[k++] = static_cast<rte_mbuf*>(frames[i].handle);
      if (k == 64) {
        rte_pktmbuf_free_bulk(bufs, k);
        k = 0;
      }
    }
    if (k) rte_pktmbuf_free_bulk(bufs, k);
  }

  uint8_t* tx_frame(uint16_t len) override {
    if (tx_count_ == kTxBurst) tx_flush();
    rte_mbuf* m = rte_pktmbuf_alloc(pool_);
    if (m == nullptr) {
      ++counters_.tx_dropped;
      return nullptr;
    }
    char* p = rte_pktmbuf_append(m, len);
    if (p == nullptr) {  // larger than one mbuf
      rte_pktmbuf_free(m);
      ++counters_.tx_dropped;
      return nullptr;
    }
    tx_[tx_count_++] = m;
    return reinterpret_cast<uint8_t*>(p);
  }

  unsigned tx_flush() override {
    unsigned sent = 0;
    // A few retries when the TX ring is full; after that the frames are dropped and TCP
    // retransmits them.
    for (int attempt = 0; attempt < 8 && sent < tx_count_; ++attempt)
      sent += rte_eth_tx_burst(port_, 0, tx_ + sent, static_cast<uint16_t>(tx_count_ - sent));
    if (sent < tx_count_) {
      rte_pktmbuf_free_bulk(tx_ + sent, tx_count_ - sent);
      counters_.tx_dropped += tx_count_ - sent;
    }
    counters_.tx_frames += sent;
    tx_count_ = 0;
    return sent;
  }

  MacAddress mac() const override { return mac_; }
  uint16_t mtu() const override { return mtu_; }
  PacketIoCounters counters() const override {
    PacketIoCounters k = counters_;
    rte_eth_stats st{};
    if (rte_eth_stats_get(port_, &st) == 0) {
      k.rx_missed = st.imissed;
      k.rx_errors = st.ierrors + st.rx_nombuf;
      k.tx_errors = st.oerrors;
    }
    return k;
  }

 private:
  const uint16_t port_;
  rte_mempool* pool_;
  const MacAddress mac_;
  const uint16_t mtu_;
  rte_mbuf* tx_[kTxBurst];
  unsigned tx_count_ = 0;
  PacketIoCounters counters_;
};

std::string init_eal(const std::string& eal_args) {
  if (g_eal_ready) return {};
  std::vector<std::string> args = split_args(eal_args);
  args.insert(args.begin(), "musqratt");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // rte_eal_init pins the calling thread to the main lcore; the broker's other threads are
  // created by this one later and must not inherit that, so the affinity is restored.
  cpu_set_t saved;
  bool have_saved = pthread_getaffinity_np(pthread_self(), sizeof saved, &saved) == 0;
  int rc = rte_eal_init(static_cast<int>(args.size()), argv.data());
  if (have_saved) pthread_setaffinity_np(pthread_self(), sizeof saved, &saved);
  if (rc < 0) return "dpdk: rte_eal_init failed: " + rte_error(rte_errno) + " (dpdk_eal_args: '" + eal_args + "')";
  g_eal_ready = true;
  return {};
}

}  // namespace

std::optional<MacAddress> parse_mac(const std::string& text) {
  MacAddress m{};
  unsigned v[6];
  char tail;
  if (sscanf(text.c_str(), "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
    return std::nullopt;
  for (int i = 0; i < 6; ++i) {
    if (v[i] > 255) return std::nullopt;
    m[i] = static_cast<uint8_t>(v[i]);
  }
  return m;
}

std::expected<std::unique_ptr<PacketIo>, std::string> open_dpdk_port(const DpdkPortOptions& o) {
  if (std::string err = init_eal(o.eal_args); !err.empty()) return std::unexpected(err);
  uint16_t nports = rte_eth_dev_count_avail();
  if (!rte_eth_dev_is_valid_port(o.port_id))
    return std::unexpected("dpdk: port " + std::to_string(o.port_id) + " does not exist (" + std::to_string(nports) +
                           " port(s) available; give a --vdev or a PCI device in dpdk_eal_args)");
  const uint16_t port = o.port_id;
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  std::string pool_name = "musqratt_mbuf_" + std::to_string(port);
  rte_mempool* pool = rte_pktmbuf_pool_create(pool_name.c_str(), kMbufs, kMbufCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool == nullptr) return std::unexpected("dpdk: mbuf pool: " + rte_error(rte_errno) + " (more memory: -m MB in dpdk_eal_args)");

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) return std::unexpected("dpdk: dev_info: " + rte_error(rc));
  rte_eth_conf conf{};
  if (int rc = rte_eth_dev_configure(port, 1, 1, &conf); rc != 0)
    return std::unexpected("dpdk: configure port " + std::to_string(port) + ": " + rte_error(rc));
  uint16_t nb_rx = kRxDesc, nb_tx = kTxDesc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
  if (int rc = rte_eth_rx_queue_setup(port, 0, nb_rx, static_cast<unsigned>(socket), nullptr, pool); rc != 0)
    return std::unexpected("dpdk: rx queue: " + rte_error(rc));
  if (int rc = rte_eth_tx_queue_setup(port, 0, nb_tx, static_cast<unsigned>(socket), nullptr); rc != 0)
    return std::unexpected("dpdk: tx queue: " + rte_error(rc));
  if (int rc = rte_eth_dev_set_mtu(port, o.mtu); rc != 0)
    LOG_WARN("dpdk: port %u: setting MTU %u failed (%s); using it for the IP layer anyway", port, o.mtu,
             rte_error(rc).c_str());
  if (int rc = rte_eth_dev_start(port); rc != 0) return std::unexpected("dpdk: start port: " + rte_error(rc));

  MacAddress mac{};
  rte_ether_addr addr{};
  rte_eth_macaddr_get(port, &addr);
  memcpy(mac.data(), addr.addr_bytes, 6);
  if (o.mac && *o.mac != mac) {
    rte_ether_addr want{};
    memcpy(want.addr_bytes, o.mac->data(), 6);
    if (int rc = rte_eth_dev_default_mac_addr_set(port, &want); rc != 0)
      LOG_INFO("dpdk: port %u cannot change its MAC (%s); receiving promiscuously instead", port, rte_error(rc).c_str());
    mac = *o.mac;
  }
  // Best effort: lets a port whose MAC was not changed still see frames for ours.
  if (o.mac) rte_eth_promiscuous_enable(port);

  LOG_INFO("dpdk: port %u (%s) started: %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u rx / %u tx descriptors", port,
           info.driver_name ? info.driver_name : "?", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], o.mtu, nb_rx, nb_tx);
  return std::make_unique<DpdkPort>(port, pool, mac, o.mtu);
}

}  // namespace musqratt::net::dpdk
