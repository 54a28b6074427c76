#include "net/dpdk/lwip_stack.h"

#include <chrono>
#include <cstdio>
#include <cstring>

extern "C" {
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/stats.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"
}

#include "util/log.h"

// lwIP's clock (NO_SYS): milliseconds from any fixed point, wrapping.
extern "C" u32_t sys_now(void) {
  using namespace std::chrono;
  return static_cast<u32_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count());
}

namespace musqratt::net::dpdk {
namespace {

bool g_created = false;
netif g_netif;
constexpr unsigned kRxBurst = 32;
constexpr uint16_t kMinFrame = 60;  // Ethernet minimum without FCS

err_t link_output(netif* nif, pbuf* p) {
  auto* io = static_cast<PacketIo*>(nif->state);
  uint16_t len = p->tot_len;
  uint16_t frame_len = len < kMinFrame ? kMinFrame : len;
  uint8_t* buf = io->tx_frame(frame_len);
  if (buf == nullptr) {
    LINK_STATS_INC(link.drop);
    return ERR_MEM;
  }
  pbuf_copy_partial(p, buf, len, 0);
  if (frame_len > len) memset(buf + len, 0, frame_len - len);
  LINK_STATS_INC(link.xmit);
  return ERR_OK;
}

err_t netif_setup(netif* nif) {
  auto* io = static_cast<PacketIo*>(nif->state);
  nif->name[0] = 'd';
  nif->name[1] = 'k';
  nif->output = etharp_output;
  nif->linkoutput = link_output;
  nif->mtu = io->mtu();
  nif->hwaddr_len = ETH_HWADDR_LEN;
  MacAddress mac = io->mac();
  memcpy(nif->hwaddr, mac.data(), ETH_HWADDR_LEN);
  nif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
  return ERR_OK;
}

}  // namespace

std::expected<std::unique_ptr<LwipStack>, std::string> LwipStack::create(PacketIo& io, const LwipStackOptions& o) {
  if (g_created) return std::unexpected("lwip: only one stack per process");
  ip4_addr_t ip, mask, gw;
  if (!ip4addr_aton(o.ip.c_str(), &ip) || ip4_addr_isany_val(ip))
    return std::unexpected("dpdk_ip: expected an IPv4 address, got '" + o.ip + "'");
  if (!ip4addr_aton(o.netmask.c_str(), &mask) || !ip4_addr_netmask_valid(mask.addr))
    return std::unexpected("dpdk_netmask: expected a netmask such as 255.255.255.0, got '" + o.netmask + "'");
  ip4_addr_set_any(&gw);
  if (!o.gateway.empty() && !ip4addr_aton(o.gateway.c_str(), &gw))
    return std::unexpected("dpdk_gateway: expected an IPv4 address, got '" + o.gateway + "'");
  lwip_init();
  std::unique_ptr<LwipStack> s(new LwipStack(io));
  if (netif_add(&g_netif, &ip, &mask, &gw, &io, netif_setup, ethernet_input) == nullptr)
    return std::unexpected("lwip: netif_add failed");
  netif_set_default(&g_netif);
  netif_set_link_up(&g_netif);
  netif_set_up(&g_netif);  // announces the address with a gratuitous ARP
  s->netif_ = &g_netif;
  g_created = true;
  return s;
}

LwipStack::~LwipStack() {
  if (netif_ != nullptr) {
    netif_set_down(&g_netif);
    netif_remove(&g_netif);
  }
}

std::string LwipStack::address() const {
  char buf[IP4ADDR_STRLEN_MAX];
  return ip4addr_ntoa_r(netif_ip4_addr(&g_netif), buf, sizeof buf);
}

unsigned LwipStack::poll_rx() {
  // One burst from every RX queue: with several queues (RSS, af_packet fanout, ...) a flow may
  // arrive on any of them, and they all feed this one stack.
  unsigned total = 0;
  for (unsigned q = 0, nq = io_.rx_queues(); q < nq; ++q) total += input_burst(q);
  return total;
}

unsigned LwipStack::input_burst(unsigned queue) {
  RxFrame frames[kRxBurst];
  unsigned n = io_.rx_burst(queue, frames, kRxBurst);
  for (unsigned i = 0; i < n; ++i) {
    // Copied into lwIP's buffers: TCP may keep received data (out of order segments) for long,
    // and must not pin the driver's RX buffers meanwhile.
    pbuf* p = pbuf_alloc(PBUF_RAW, frames[i].len, PBUF_POOL);
    if (p == nullptr) {
      LINK_STATS_INC(link.memerr);
      continue;
    }
    pbuf_take(p, frames[i].data, frames[i].len);
    LINK_STATS_INC(link.recv);
    if (g_netif.input(p, &g_netif) != ERR_OK) pbuf_free(p);
  }
  if (n) io_.release_rx(frames, n);
  return n;
}

std::string LwipStack::stats() const {
  char buf[256];
  snprintf(buf, sizeof buf,
           "tcp segments in %lu out %lu, retransmitted %lu, dropped %lu (checksum %lu), memory errors %lu; "
           "link drops %lu",
           static_cast<unsigned long>(lwip_stats.tcp.recv), static_cast<unsigned long>(lwip_stats.tcp.xmit),
           static_cast<unsigned long>(lwip_stats.mib2.tcpretranssegs), static_cast<unsigned long>(lwip_stats.tcp.drop),
           static_cast<unsigned long>(lwip_stats.tcp.chkerr),
           static_cast<unsigned long>(lwip_stats.tcp.memerr + lwip_stats.link.memerr),
           static_cast<unsigned long>(lwip_stats.link.drop));
  return buf;
}

void LwipStack::check_timeouts() { sys_check_timeouts(); }

unsigned LwipStack::flush_tx() { return io_.tx_flush(); }

}  // namespace musqratt::net::dpdk
