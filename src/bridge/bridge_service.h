#pragma once
// The door of src/bridge: every configured bridge, on a worker thread of their own for
// outgoing connections, so that an upstream that stalls, refuses or answers nonsense never
// touches the workers that serve clients. The app starts it once the store is recovered and
// stops it before the store closes.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bridge/bridge_config.h"
#include "bridge/link_status.h"
#include "broker/broker.h"
#include "net/epoll_worker.h"
#include "net/resolver.h"

namespace musqratt::bridge {

class Bridge;

/// Discards the buffers ("$bridge/NAME" sessions restored from the store) of bridges that
/// `configs` no longer has, logging each: they would otherwise keep collecting messages for a
/// link that never comes. BridgeService::start() calls it; the app calls it itself when no
/// bridge is configured at all. Thread: start-up, before the listeners open.
void discard_unconfigured_buffers(broker::Broker& broker, const std::vector<BridgeConfig>& configs);

/// Thread: start() and stop() from the main thread. Ownership: owns the bridges, their worker
/// and the resolver; the broker outlives it.
class BridgeService {
 public:
  /// `worker_index` must differ from the server's workers' (it names the worker in logs and
  /// statistics).
  BridgeService(broker::Broker& broker, std::vector<BridgeConfig> configs, unsigned worker_index);
  ~BridgeService();
  BridgeService(const BridgeService&) = delete;
  BridgeService& operator=(const BridgeService&) = delete;

  /// Makes the buffers (or finds them restored), discards those of bridges no longer
  /// configured, starts the worker and the first connection attempts, and registers the
  /// $SYS status. Returns "" or an error that names the bridge.
  std::string start();
  /// Says goodbye upstream (DISCONNECT), stops the worker; buffers stay in the store.
  void stop();

  /// What operators watch per bridge (the HTTP endpoint's /metrics). Thread: any.
  struct Figures {
    std::string name;
    LinkState state = LinkState::Down;
    uint64_t backlog = 0;  // messages queued or in flight towards the upstream
  };
  std::vector<Figures> figures() const;

 private:
  broker::Broker& broker_;
  std::vector<BridgeConfig> configs_;
  const unsigned worker_index_;
  std::unique_ptr<net::EpollWorker> worker_;
  net::Resolver resolver_;
  /// The bridges, shared with the broker's $SYS source (which lives as long as the broker).
  struct Board {
    std::mutex mu;
    std::vector<std::shared_ptr<Bridge>> bridges;  // guarded by mu; emptied by stop()
  };
  std::shared_ptr<Board> board_ = std::make_shared<Board>();
  std::vector<std::shared_ptr<Bridge>> bridges_;
  bool started_ = false;
};

}  // namespace musqratt::bridge
