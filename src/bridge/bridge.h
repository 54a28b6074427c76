#pragma once
// One configured bridge: its buffer session, and the life of its link to the upstream
// (resolve, connect, CONNACK, lose it, wait, again) with jittered exponential backoff,
// addresses tried in order, a log line on every change of state that says why, and its
// status in $SYS.
#include <atomic>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "bridge/bridge_config.h"
#include "bridge/link_status.h"
#include "bridge/log_throttle.h"
#include "bridge/topic_mapping.h"
#include "bridge/uplink.h"
#include "broker/broker.h"
#include "net/epoll_worker.h"
#include "net/resolver.h"
#include "util/clock.h"

namespace musqratt::bridge {

/// The delay before the next attempt after `rounds` failed rounds over the addresses:
/// min * 2^(rounds-1), capped at max, jittered upwards by up to as much again (capped at max),
/// so bridges that lost the same upstream do not all come back at once.
util::Millis backoff_delay(uint32_t rounds, uint32_t min_ms, uint32_t max_ms, std::mt19937_64& rng);

/// Thread: prepare() before the worker runs; everything else on the worker's thread, except
/// publish_status() and request_stop() (any thread). Ownership: owned by the BridgeService;
/// holds the buffer session.
class Bridge final : public UplinkHost {
 public:
  Bridge(BridgeConfig config, broker::Broker& broker, net::EpollWorker& worker, net::Resolver& resolver,
         std::shared_ptr<SSL_CTX> tls);

  /// Finds (restored from disk) or makes the buffer session, applies the buffer limits and
  /// subscribes it to the out rules' filters; it stays offline until the link is up.
  void prepare(util::TimePoint now);
  /// The first connection attempt. Thread: the worker.
  void start(util::TimePoint now);
  /// No attempt after this. Thread: any.
  void request_stop() { stopping_.store(true); }
  /// Publishes $SYS/broker/bridges/NAME/... Thread: any.
  void publish_status(util::TimePoint now);

  const BridgeConfig& config() const { return config_; }
  /// Messages queued or in flight towards the upstream. Thread: any.
  uint64_t backlog() const { return session_ ? session_->queued_count() + session_->inflight_count() : 0; }
  const LinkStatus& status() const { return status_; }

  // UplinkHost
  void on_link_up(bool session_present, util::TimePoint now) override;
  void on_link_down(const LinkEnd& end, util::TimePoint now) override;

 private:
  void attempt(util::TimePoint now);
  void resolved(net::Resolver::Result result, util::TimePoint now);
  void connect_next(util::TimePoint now);
  /// An attempt failed: the next resolved address, the next configured one, or a wait.
  void attempt_failed(const std::string& reason, util::TimePoint now);
  void retry_after(util::Millis delay);
  void set_state(LinkState s);
  std::string address_now() const { return config_.addresses[address_index_]; }

  const BridgeConfig config_;
  const TopicMap topics_;
  broker::Broker& broker_;
  net::EpollWorker& worker_;
  net::Resolver& resolver_;
  const std::shared_ptr<SSL_CTX> tls_;
  broker::SessionPtr session_;  // set by prepare(), then never changed
  LinkStatus status_;
  std::atomic<bool> stopping_{false};

  // Worker thread only.
  LogThrottle message_log_{util::Seconds(10)};
  LogThrottle failure_log_{util::Seconds(60)};
  std::string last_failure_;  // repeated failures of the same kind are logged once a minute
  std::mt19937_64 rng_;
  size_t address_index_ = 0;
  uint32_t failed_rounds_ = 0;
  std::vector<net::SocketAddress> resolved_;
  size_t resolved_index_ = 0;
  uint64_t attempt_seq_ = 0;  // answers from the resolver for an older attempt are ignored
  bool bridge_bit_;           // 3.1.1 try_private, cleared if the upstream refuses it
  util::TimePoint up_since_{};
};

}  // namespace musqratt::bridge
