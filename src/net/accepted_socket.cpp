#include "net/accepted_socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstddef>

namespace musqratt::net {

uint32_t measured_rtt_us(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  if (len < offsetof(tcp_info, tcpi_rtt) + sizeof info.tcpi_rtt) return 0;
  return info.tcpi_rtt;
}

bool tune_accepted_socket(int fd, const AcceptedSocketOptions& options) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (options.local_send_buffer == 0 || !is_nearby_peer(measured_rtt_us(fd))) return false;
  // The kernel doubles the value (for its own bookkeeping) and clamps it to net.core.wmem_max.
  int bytes = static_cast<int>(options.local_send_buffer);
  return setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) == 0;
}

}  // namespace musqratt::net
