#include "procfs.hpp"

#include <netinet/in.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace mqb::procfs {

double cpu_seconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  // The command name (field 2) may hold spaces and parentheses: fields count from the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  static const long tck = ::sysconf(_SC_CLK_TCK);
  return double(utime + stime) / double(tck > 0 ? tck : 100);
}

double self_cpu_seconds() {
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  auto s = [](const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

int64_t status_kb(int pid, const char* key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  const std::size_t klen = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, klen, key) == 0 && line.size() > klen && line[klen] == ':')
      return std::stoll(line.substr(klen + 1));
  return -1;
}

namespace {

// The kernel prints each address as the 32-bit words of the network-order address read in
// host order, "%08X" each, then ":%04X" for the port.
std::string proc_addr(const sockaddr_storage& a) {
  char b[64];
  if (a.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(a);
    std::snprintf(b, sizeof b, "%08X:%04X", in.sin_addr.s_addr, ntohs(in.sin_port));
  } else {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(a);
    uint32_t w[4];
    std::memcpy(w, &in6.sin6_addr, 16);
    std::snprintf(b, sizeof b, "%08X%08X%08X%08X:%04X", w[0], w[1], w[2], w[3], ntohs(in6.sin6_port));
  }
  return b;
}

}  // namespace

int64_t tcp_send_queue(const sockaddr_storage& local, const sockaddr_storage& remote) {
  const std::string want_local = proc_addr(local), want_remote = proc_addr(remote);
  std::ifstream f(local.ss_family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6");
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    std::istringstream in(line);
    std::string sl, loc, rem, st, queues;
    if (!(in >> sl >> loc >> rem >> st >> queues)) continue;
    if (loc != want_local || rem != want_remote) continue;
    auto colon = queues.find(':');
    if (colon == std::string::npos) return -1;
    return std::stoll(queues.substr(0, colon), nullptr, 16);
  }
  return -1;
}

}  // namespace mqb::procfs
