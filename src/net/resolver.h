#pragma once
// Name resolution for outgoing connections, off the event loops: getaddrinfo() blocks (for
// seconds when a DNS server does not answer), and an event loop that blocks stalls every
// connection it owns. One thread answers requests in order; IP literals are answered
// without a lookup.
#include <sys/socket.h>

#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace musqratt::net {

/// One address to connect to.
struct SocketAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;
  std::string text;  // "ip:port" / "[ip6]:port", for logs
};

/// Every address of `host` (IPv4 and IPv6, in getaddrinfo's order), or why there is none.
/// Blocks for a host name; use Resolver from an event loop.
std::expected<std::vector<SocketAddress>, std::string> resolve_now(const std::string& host, uint16_t port);

/// Thread: resolve() and stop() from any thread; callbacks run on the resolver's own thread.
/// Ownership: owns its thread, started on the first request and joined by stop().
class Resolver {
 public:
  using Result = std::expected<std::vector<SocketAddress>, std::string>;
  using Done = std::function<void(Result)>;

  Resolver() = default;
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// Resolves `host`; `done` is called with the answer (not after stop() has returned).
  void resolve(std::string host, uint16_t port, Done done);
  /// Drops requests not yet started and joins the thread.
  void stop();

 private:
  struct Request {
    std::string host;
    uint16_t port;
    Done done;
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> requests_;  // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  std::thread thread_;
};

}  // namespace musqratt::net
