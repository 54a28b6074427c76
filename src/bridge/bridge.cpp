#include "bridge/bridge.h"

#include <algorithm>

#include "bridge/buffer.h"
#include "net/tls_layer.h"
#include "util/log.h"

namespace musqratt::bridge {

util::Millis backoff_delay(uint32_t rounds, uint32_t min_ms, uint32_t max_ms, std::mt19937_64& rng) {
  uint64_t base = min_ms;
  for (uint32_t i = 1; i < rounds && base < max_ms; ++i) base *= 2;
  base = std::min<uint64_t>(base, max_ms);
  uint64_t top = std::min<uint64_t>(base * 2, max_ms);
  std::uniform_int_distribution<uint64_t> jitter(base, std::max(base, top));
  return util::Millis(jitter(rng));
}

namespace {

/// The host part of "HOST:PORT" / "[V6]:PORT" (checked by the config parser) and its port.
std::pair<std::string, uint16_t> split_address(const std::string& a) {
  size_t colon = a.rfind(':');
  std::string host = a.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, static_cast<uint16_t>(std::stoi(a.substr(colon + 1)))};
}

}  // namespace

Bridge::Bridge(BridgeConfig config, broker::Broker& broker, net::EpollWorker& worker, net::Resolver& resolver,
               std::shared_ptr<SSL_CTX> tls)
    : config_(std::move(config)),
      topics_(config_.topics),
      broker_(broker),
      worker_(worker),
      resolver_(resolver),
      tls_(std::move(tls)),
      rng_(std::random_device{}()),
      bridge_bit_(config_.try_private) {}

void Bridge::prepare(util::TimePoint now) {
  session_ = open_buffer(broker_, config_, topics_, &worker_, now);
  size_t queued = session_->queued_count() + session_->inflight_count();
  if (!session_->persistent())
    LOG_WARN("bridge '%s': persistence is off: its buffer is kept in memory and lost at a restart",
             config_.name.c_str());
  LOG_INFO("bridge '%s': %zu message(s) waiting for %s (%s, %zu topic rule(s))", config_.name.c_str(), queued,
           config_.addresses.front().c_str(), config_.version == protocol::Version::V5 ? "mqttv5" : "mqttv311",
           config_.topics.size());
}

void Bridge::start(util::TimePoint now) { attempt(now); }

void Bridge::set_state(LinkState s) {
  if (status_.state.exchange(s) == s) return;
  broker_.publish_sys_value("$SYS/broker/bridges/" + config_.name + "/state", link_state_name(s));
}

void Bridge::attempt(util::TimePoint now) {
  (void)now;
  if (stopping_) return;
  set_state(LinkState::Connecting);
  uint64_t seq = ++attempt_seq_;
  auto [host, port] = split_address(address_now());
  resolver_.resolve(host, port, [this, seq](net::Resolver::Result r) {
    worker_.post_task([this, seq, r = std::move(r)](util::TimePoint t) mutable {
      if (seq == attempt_seq_) resolved(std::move(r), t);
    });
  });
}

void Bridge::resolved(net::Resolver::Result result, util::TimePoint now) {
  if (stopping_) return;
  if (!result) return attempt_failed(result.error(), now);
  resolved_ = std::move(*result);
  resolved_index_ = 0;
  connect_next(now);
}

void Bridge::connect_next(util::TimePoint now) {
  if (stopping_) return;
  const net::SocketAddress& a = resolved_[resolved_index_];
  std::string server_name = config_.tls_server_name.empty() ? split_address(address_now()).first : config_.tls_server_name;
  net::EndpointFactory make = [this, server_name](net::NewConnection& nc) -> std::unique_ptr<net::Endpoint> {
    UplinkContext ctx{config_, topics_, broker_, session_, status_, *this, message_log_, bridge_bit_};
    auto uplink = std::make_unique<Uplink>(ctx, nc.waker, nc.token, nc.peer, nc.now);
    if (!tls_) return uplink;
    return std::make_unique<net::TlsLayer>(tls_, net::TlsServerIdentity{server_name, config_.tls_verify_hostname},
                                           std::move(uplink), nc.peer);
  };
  LOG_DEBUG("bridge '%s': connecting to %s (%s)", config_.name.c_str(), address_now().c_str(), a.text.c_str());
  auto r = worker_.connect(reinterpret_cast<const sockaddr*>(&a.addr), a.len, a.text,
                           util::Millis(config_.connect_timeout_ms), make, now);
  if (!r) attempt_failed("connect to " + a.text + ": " + r.error(), now);
  // Otherwise the Uplink reports how it went (on_link_up, on_link_down).
}

void Bridge::on_link_up(bool session_present, util::TimePoint now) {
  up_since_ = now;
  failed_rounds_ = 0;
  failure_log_.reset();
  last_failure_.clear();
  set_state(LinkState::Connected);
  LOG_INFO("bridge '%s': connected to %s (%s, %s; %zu message(s) to forward)", config_.name.c_str(),
           address_now().c_str(), config_.version == protocol::Version::V5 ? "mqttv5" : "mqttv311",
           session_present ? "the upstream kept the session" : "new session upstream",
           session_->queued_count() + session_->inflight_count());
}

void Bridge::on_link_down(const LinkEnd& end, util::TimePoint now) {
  if (stopping_) {
    status_.state.store(LinkState::Down);
    return;
  }
  if (end.established) {
    set_state(LinkState::Down);
    LOG_WARN("bridge '%s': link to %s lost: %s; reconnecting", config_.name.c_str(), address_now().c_str(),
             end.reason.c_str());
    // A link that stayed up a while starts over with the first address and the shortest
    // delay; one dropped right after its CONNACK keeps backing off.
    bool lasted = now - up_since_ >= util::Seconds(10);
    if (lasted) failed_rounds_ = 0;
    address_index_ = 0;
    retry_after(backoff_delay(std::max<uint32_t>(failed_rounds_, 1), config_.reconnect_min_ms,
                              config_.reconnect_max_ms, rng_));
    if (!lasted) ++failed_rounds_;
    return;
  }
  // The upstream does not know the 3.1.1 bridge bit: the same address again, without it.
  if (end.refused == protocol::Reason::UnsupportedProtocolVersion && bridge_bit_ &&
      config_.version != protocol::Version::V5) {
    bridge_bit_ = false;
    LOG_WARN("bridge '%s': %s refused the bridge protocol level (try_private); connecting as a plain client",
             config_.name.c_str(), address_now().c_str());
    worker_.post_task([this](util::TimePoint t) { connect_next(t); });
    return;
  }
  attempt_failed(end.reason, now);
}

void Bridge::attempt_failed(const std::string& reason, util::TimePoint now) {
  if (stopping_) return;
  // The next address of this name, at once.
  if (resolved_index_ + 1 < resolved_.size()) {
    ++resolved_index_;
    worker_.post_task([this](util::TimePoint t) { connect_next(t); });
    return;
  }
  resolved_.clear();
  std::string failed_address = address_now();
  address_index_ = (address_index_ + 1) % config_.addresses.size();
  set_state(LinkState::Down);
  if (address_index_ != 0) {
    // The next configured address, at once: a round is over only when all were tried.
    LOG_WARN("bridge '%s': cannot connect to %s: %s; trying %s", config_.name.c_str(), failed_address.c_str(),
             reason.c_str(), address_now().c_str());
    worker_.post_task([this](util::TimePoint t) { attempt(t); });
    return;
  }
  ++failed_rounds_;
  util::Millis delay = backoff_delay(failed_rounds_, config_.reconnect_min_ms, config_.reconnect_max_ms, rng_);
  // The same failure over and over (an upstream down for hours) is said once a minute.
  uint64_t suppressed = 0;
  if (reason != last_failure_) failure_log_.reset();
  last_failure_ = reason;
  if (failure_log_.allow(now, suppressed)) {
    std::string more = suppressed ? " (" + std::to_string(suppressed) + " more failed attempts the same way)" : "";
    LOG_WARN("bridge '%s': cannot connect to %s: %s; retrying in %lld ms%s", config_.name.c_str(),
             failed_address.c_str(), reason.c_str(), static_cast<long long>(delay.count()), more.c_str());
  }
  retry_after(delay);
}

void Bridge::retry_after(util::Millis delay) {
  worker_.add_timer(util::now() + delay, [this](util::TimePoint t) { attempt(t); });
}

void Bridge::publish_status(util::TimePoint now) {
  const std::string prefix = "$SYS/broker/bridges/" + config_.name + "/";
  uint64_t queued = session_->queued_count() + session_->inflight_count();
  uint64_t age = 0;
  if (auto oldest = session_->oldest_created(); oldest && *oldest != util::TimePoint{} && now > *oldest)
    age = static_cast<uint64_t>(std::chrono::duration_cast<util::Seconds>(now - *oldest).count());
  broker_.publish_sys_value(prefix + "state", link_state_name(status_.state.load()));
  broker_.publish_sys_value(prefix + "queued", std::to_string(queued));
  broker_.publish_sys_value(prefix + "queued_bytes", std::to_string(session_->queued_bytes()));
  broker_.publish_sys_value(prefix + "sent", std::to_string(status_.sent.load()));
  broker_.publish_sys_value(prefix + "received", std::to_string(status_.received.load()));
  broker_.publish_sys_value(prefix + "dropped", std::to_string(session_->dropped_count() + status_.rejected.load()));
  broker_.publish_sys_value(prefix + "oldest_queued_age", std::to_string(age));
}

}  // namespace musqratt::bridge
