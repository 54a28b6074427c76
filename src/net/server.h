#pragma once
// The kernel-socket (epoll) server: opens the listeners, starts the workers and the
// housekeeping timer, and stops them all on request.
#include <atomic>
#include <condition_variable>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "net/address.h"
#include "net/listener.h"
#include "net/tls.h"
#include "net/transport.h"
#include "net/worker_base.h"

namespace musqratt::net {

struct ServerOptions {
  std::vector<std::string> listen;  // HOST:PORT each
  unsigned threads = 1;
  std::string transport = "epoll";  // see make_worker()
  /// Set for a user-level TCP/IP transport (dpdk): the server opens no kernel listener and
  /// runs the one worker this returns (it brings its own network stack) instead.
  std::function<std::expected<std::unique_ptr<WorkerBase>, std::string>(unsigned index, broker::Broker&)> user_level_worker;
  std::vector<std::string> tls_listen;  // HOST:PORT each, speaking MQTT over TLS
  TlsSettings tls;
  UringSettings uring;
  /// Listeners the app composes itself (WebSocket, HTTP, ...): address, description, factory.
  struct ExtraListener {
    std::string address;
    std::string description;
    EndpointFactory make_endpoint;
    /// Under TLS with the server's context (tls_cert, tls_key, tls_ca; reloaded with the TLS
    /// listeners'), which is made for it when no TLS listener needs it already.
    bool tls = false;
  };
  std::vector<ExtraListener> extra_listeners;
};

class Server {
 public:
  Server(broker::Broker& broker, ServerOptions options);
  ~Server();

  /// Opens listeners and starts threads. Returns an error message on failure.
  std::string start();
  void stop();
  const std::vector<HostPort>& endpoints() const { return endpoints_; }
  /// The TLS context of the TLS listeners (null without any): stream layers the app composes
  /// over TLS use it too.
  std::shared_ptr<TlsServerContext> tls_context() const { return tls_context_; }
  /// Busy time of each worker (see WorkerBase::busy_seconds), in worker order. Thread: any,
  /// between start() and stop().
  std::vector<double> worker_busy_seconds() const;
  /// Re-reads TLS certificates and keys (SIGHUP); connections already open keep theirs.
  std::string reload_tls();

 private:
  void housekeeping_loop();
  std::string start_user_level();
  /// Opens `address` and adds it to the listeners.
  std::string open(const std::string& address, std::string description, EndpointFactory factory);

  broker::Broker& broker_;
  ServerOptions options_;
  std::vector<Listener> listeners_;
  std::vector<HostPort> endpoints_;  // in the order of listeners_
  std::shared_ptr<TlsServerContext> tls_context_;
  std::vector<std::unique_ptr<WorkerBase>> workers_;
  std::thread housekeeping_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace musqratt::net
