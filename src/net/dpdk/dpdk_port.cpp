#include "net/dpdk/dpdk_port.h"

#include <pthread.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <algorithm>
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
constexpr unsigned kMbufsInFlight = 2048;  // beyond what the rings hold: bursts, lcore caches
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

// The RSS hash types asked for when there are several queues: IPv4/IPv6 addresses and TCP
// ports (lwIP here speaks TCP over IPv4; the others only spread what would arrive anyway).
constexpr uint64_t kRssWanted = RTE_ETH_RSS_IP | RTE_ETH_RSS_TCP;

std::string rss_names(uint64_t hf) {
  static constexpr struct {
    uint64_t bit;
    const char* name;
  } kNames[] = {
      {RTE_ETH_RSS_IPV4, "ipv4"},
      {RTE_ETH_RSS_FRAG_IPV4, "ipv4-frag"},
      {RTE_ETH_RSS_NONFRAG_IPV4_TCP, "ipv4-tcp"},
      {RTE_ETH_RSS_NONFRAG_IPV4_UDP, "ipv4-udp"},
      {RTE_ETH_RSS_NONFRAG_IPV4_SCTP, "ipv4-sctp"},
      {RTE_ETH_RSS_NONFRAG_IPV4_OTHER, "ipv4-other"},
      {RTE_ETH_RSS_IPV6, "ipv6"},
      {RTE_ETH_RSS_FRAG_IPV6, "ipv6-frag"},
      {RTE_ETH_RSS_NONFRAG_IPV6_TCP, "ipv6-tcp"},
      {RTE_ETH_RSS_NONFRAG_IPV6_UDP, "ipv6-udp"},
      {RTE_ETH_RSS_NONFRAG_IPV6_SCTP, "ipv6-sctp"},
      {RTE_ETH_RSS_NONFRAG_IPV6_OTHER, "ipv6-other"},
      {RTE_ETH_RSS_IPV6_EX, "ipv6-ex"},
      {RTE_ETH_RSS_IPV6_TCP_EX, "ipv6-tcp-ex"},
      {RTE_ETH_RSS_IPV6_UDP_EX, "ipv6-udp-ex"},
  };
  std::string out;
  for (const auto& n : kNames) {
    if ((hf & n.bit) == 0) continue;
    if (!out.empty()) out += ' ';
    out += n.name;
    hf &= ~n.bit;
  }
  if (hf != 0) {
    char rest[32];
    snprintf(rest, sizeof rest, "%s0x%llx", out.empty() ? "" : " ", static_cast<unsigned long long>(hf));
    out += rest;
  }
  return out;
}

class DpdkPort final : public PacketIo {
 public:
  DpdkPort(uint16_t port, rte_mempool* pool, MacAddress mac, uint16_t mtu, uint16_t queues)
      : port_(port), pool_(pool), mac_(mac), mtu_(mtu), rx_queue_frames_(queues, 0) {}
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

  unsigned rx_queues() const override { return static_cast<unsigned>(rx_queue_frames_.size()); }

  unsigned rx_burst(unsigned queue, RxFrame* out, unsigned max) override {
    rte_mbuf* bufs[64];
    if (max > 64) max = 64;
    uint16_t n = rte_eth_rx_burst(port_, static_cast<uint16_t>(queue), bufs, static_cast<uint16_t>(max));
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
    rx_queue_frames_[queue] += kept;
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

  // Every frame goes out on TX queue 0, whatever the number of queues: the port has a single
  // thread (one lcore), so one TX queue needs no lock and keeps each flow's segments in the
  // order lwIP produced them; spreading over several TX queues would not add a core to do the
  // work, and could reorder a flow's segments on ports that serve queues independently. The
  // other TX queues are set up (several PMDs want as many TX as RX queues) and stay idle.
  // Note for net_tap: the kernel steers a flow to the tap queue that last wrote a frame of it,
  // so after the broker's first reply on queue 0 that flow arrives on RX queue 0.
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
    k.rx_queue_frames = rx_queue_frames_;
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
  std::vector<uint64_t> rx_queue_frames_;  // one per RX queue
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

  // On a failure the port is closed again, so that it releases what its probe took (a memif
  // server's socket file, a tap device, an XDP program) even if the process lingers.
  rte_mempool* pool = nullptr;
  auto fail = [&](std::string message) -> std::unexpected<std::string> {
    rte_eth_dev_close(port);
    if (pool != nullptr) rte_mempool_free(pool);
    return std::unexpected(std::move(message));
  };

  rte_eth_dev_info info{};
  if (int rc = rte_eth_dev_info_get(port, &info); rc != 0) return fail("dpdk: dev_info: " + rte_error(rc));
  const char* driver = info.driver_name ? info.driver_name : "?";
  const uint16_t nq = o.queues;
  if (nq == 0) return fail("dpdk_queues: expected 1 or more");
  if (nq > info.max_rx_queues || nq > info.max_tx_queues)
    return fail("dpdk: port " + std::to_string(port) + " (" + driver + ") supports at most " +
                std::to_string(info.max_rx_queues) + " rx and " + std::to_string(info.max_tx_queues) +
                " tx queues; dpdk_queues = " + std::to_string(nq) +
                " cannot be configured (a virtual port may need more queues in its --vdev arguments, "
                "e.g. net_af_packet's qpairs=N or net_af_xdp's queue_count=N)");

  rte_eth_conf conf{};
  uint64_t rss_hf = 0;
  if (nq > 1) {
    // RSS spreads flows over the RX queues; all of them feed the same lwIP, so any spreading
    // is correct, it only has to reach every queue that is set up.
    rss_hf = kRssWanted & info.flow_type_rss_offloads;
    if (rss_hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_key = nullptr;  // the driver's default key
      conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    }
  }
  if (int rc = rte_eth_dev_configure(port, nq, nq, &conf); rc != 0)
    return fail("dpdk: configure port " + std::to_string(port) + " with " + std::to_string(nq) +
                " queue pair(s): " + rte_error(rc));
  if (nq > 1) {
    if (rss_hf != 0)
      LOG_INFO("dpdk: port %u: %u rx/tx queues, RSS on: %s (the port offers %s)", port, nq, rss_names(rss_hf).c_str(),
               rss_names(info.flow_type_rss_offloads).c_str());
    else
      LOG_INFO("dpdk: port %u: %u rx/tx queues, no RSS (%s offers none for IP/TCP): frames reach the queues as the "
               "driver puts them there", port, nq, driver);
  }
  uint16_t nb_rx = kRxDesc, nb_tx = kTxDesc;
  rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rx, &nb_tx);
  // Enough mbufs to fill every RX ring (drivers of real NICs do at start) and the TX ring in use.
  unsigned mbufs = std::max(kMbufs, unsigned{nq} * nb_rx + nb_tx + kMbufsInFlight);
  std::string pool_name = "musqratt_mbuf_" + std::to_string(port);
  pool = rte_pktmbuf_pool_create(pool_name.c_str(), mbufs, kMbufCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (pool == nullptr)
    return fail("dpdk: mbuf pool of " + std::to_string(mbufs) + " mbufs: " + rte_error(rte_errno) +
                " (more memory: -m MB in dpdk_eal_args)");
  for (uint16_t q = 0; q < nq; ++q) {
    if (int rc = rte_eth_rx_queue_setup(port, q, nb_rx, static_cast<unsigned>(socket), nullptr, pool); rc != 0)
      return fail("dpdk: rx queue " + std::to_string(q) + ": " + rte_error(rc));
    if (int rc = rte_eth_tx_queue_setup(port, q, nb_tx, static_cast<unsigned>(socket), nullptr); rc != 0)
      return fail("dpdk: tx queue " + std::to_string(q) + ": " + rte_error(rc));
  }
  if (int rc = rte_eth_dev_set_mtu(port, o.mtu); rc != 0)
    LOG_WARN("dpdk: port %u: setting MTU %u failed (%s); using it for the IP layer anyway", port, o.mtu,
             rte_error(rc).c_str());
  if (int rc = rte_eth_dev_start(port); rc != 0) return fail("dpdk: start port: " + rte_error(rc));

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

  LOG_INFO("dpdk: port %u (%s) started: %02x:%02x:%02x:%02x:%02x:%02x, mtu %u, %u rx/tx queue pair(s), %u rx / %u tx "
           "descriptors per queue",
           port, driver, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], o.mtu, nq, nb_rx, nb_tx);
  return std::make_unique<DpdkPort>(port, pool, mac, o.mtu, nq);
}

}  // namespace musqratt::net::dpdk
