#include "net/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace musqratt::net {

namespace {
std::string address_text(const sockaddr* sa) {
  char ip[INET6_ADDRSTRLEN] = "?";
  uint16_t port = 0;
  if (sa->sa_family == AF_INET) {
    auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &in->sin_addr, ip, sizeof ip);
    port = ntohs(in->sin_port);
    return std::string(ip) + ":" + std::to_string(port);
  }
  auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
  inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof ip);
  port = ntohs(in6->sin6_port);
  return "[" + std::string(ip) + "]:" + std::to_string(port);
}
}  // namespace

std::expected<std::vector<SocketAddress>, std::string> resolve_now(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc == EAI_ADDRFAMILY || rc == EAI_NONAME) {
    // AI_ADDRCONFIG hides loopback-only families on a host without other addresses.
    hints.ai_flags = 0;
    rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  }
  if (rc != 0) return std::unexpected("cannot resolve '" + host + "': " + gai_strerror(rc));
  std::vector<SocketAddress> out;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    SocketAddress a;
    memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
    a.text = address_text(ai->ai_addr);
    out.push_back(std::move(a));
  }
  freeaddrinfo(res);
  if (out.empty()) return std::unexpected("no address for '" + host + "'");
  return out;
}

Resolver::~Resolver() { stop(); }

void Resolver::resolve(std::string host, uint16_t port, Done done) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  requests_.push_back({std::move(host), port, std::move(done)});
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
}

void Resolver::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    requests_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Resolver::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !requests_.empty(); });
    if (stopping_) return;
    Request r = std::move(requests_.front());
    requests_.erase(requests_.begin());
    lock.unlock();
    Result result = resolve_now(r.host, r.port);
    r.done(std::move(result));
    lock.lock();
  }
}

}  // namespace musqratt::net
