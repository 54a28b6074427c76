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
  /// Kernel options of accepted sockets, for every kernel listener (net::AcceptedSocketOptions).
  AcceptedSocketOptions accepted;
};

class Server {
 public:
  Server(broker::Broker& broker, ServerOptions options);
  ~Server();

  /// Opens listeners and starts threads. Returns an error message on failure.
  std::string start();
  void stop();
  /// The TLS context of the TLS listeners (null without any): stream layers the app composes
  /// over TLS use it too.
  std::shared_ptr<TlsServerContext> tls_context() const { return tls_context_; }
  /// What each worker reports of itself, in worker order. Thread: any, between start() and stop().
  struct WorkerFigures {
    double busy_seconds;   // WorkerBase::busy_seconds
    uint32_t connections;  // WorkerBase::connections
  };
  std::vector<WorkerFigures> worker_figures() const;
  /// Re-reads TLS certificates and keys (SIGHUP); connections already open keep theirs.
  std::string reload_tls();
  /// SIGHUP: the listeners become those of `listen`, `tls_listen` and `extra` (the same
  /// meaning as in ServerOptions). A listener is known by its configured address and its
  /// description: one in both the running and the new set stays as it is, with its open
  /// connections and its factory; one only in the running set stops listening (connections it
  /// accepted stay); one only in the new set is opened. Returns one error per listener that
  /// could not be opened (the others still change). Thread: the thread that called start().
  std::vector<std::string> update_listeners(const std::vector<std::string>& listen,
                                            const std::vector<std::string>& tls_listen,
                                            std::vector<ServerOptions::ExtraListener> extra);

 private:
  /// A listener as configured: what identifies it across a reload, and how to make its
  /// connections' endpoints.
  struct Wanted {
    std::string address;
    std::string description;
    EndpointFactory factory;
    bool tls = false;
    std::string key() const { return address + " (" + description + ")"; }
  };
  std::vector<Wanted> wanted(const std::vector<std::string>& listen, const std::vector<std::string>& tls_listen,
                             std::vector<ServerOptions::ExtraListener> extra) const;
  /// Opens `w` (making the TLS context when it is the first TLS listener) and appends it.
  std::string open(const Wanted& w);
  /// Every worker lets go of the listener in `slot`; then its socket is closed.
  void retire(size_t slot);
  void housekeeping_loop();
  std::string start_user_level();

  broker::Broker& broker_;
  ServerOptions options_;
  std::vector<Listener> listeners_;  // by slot; a retired one keeps its slot with fd -1
  std::vector<std::string> keys_;    // Wanted::key() by slot; empty once retired
  std::vector<HostPort> endpoints_;  // by slot
  std::shared_ptr<TlsServerContext> tls_context_;
  std::vector<std::unique_ptr<WorkerBase>> workers_;
  std::thread housekeeping_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace musqratt::net
