#pragma once
// The broker's session driver as the Endpoint a transport drives: an MQTT connection to a client.
#include <memory>

#include "broker/session_driver.h"
#include "net/endpoint.h"
#include "net/listener.h"

namespace musqratt::net {

/// Thread: the worker that owns the connection. Ownership: the connection (or the stream
/// layer under it) owns this, and this owns its SessionDriver.
class MqttEndpoint final : public Endpoint {
 public:
  MqttEndpoint(broker::Broker& broker, NewConnection& c) : driver_(broker, c.waker, c.token, c.peer, c.now) {}

  void on_bytes(std::span<const uint8_t> data, util::TimePoint now) override { driver_.on_bytes(data, now); }
  std::string_view pending_output() override { return driver_.pending_output(); }
  size_t pending_segments(std::span<std::string_view> seg) override { return driver_.output_segments(seg); }
  void consume_output(size_t n, util::TimePoint now) override {
    driver_.consume_output(n);
    if (driver_.pending_size() == 0) driver_.on_output_drained(now);  // may encode more queued messages
  }
  bool closing() const override { return driver_.closing(); }
  std::string_view close_reason() const override { return driver_.close_reason(); }
  void on_wake(util::TimePoint now) override { driver_.on_wake(now); }
  void on_tick(util::TimePoint now) override { driver_.on_tick(now); }
  void on_shutdown() override { driver_.on_shutdown(); }
  void on_closed(util::TimePoint now) override { driver_.on_closed(now); }
  void on_peer_identity(std::string name) override { driver_.set_certificate_username(std::move(name)); }

  const broker::SessionDriver& driver() const { return driver_; }

 private:
  broker::SessionDriver driver_;
};

// Every idle client pays for its endpoint: 248 bytes is a 256-byte heap block.
#if defined(NDEBUG) && defined(__GLIBCXX__)
static_assert(sizeof(MqttEndpoint) <= 248);
#endif

/// Connections that speak MQTT straight over the transport.
inline EndpointFactory mqtt_endpoints(broker::Broker& broker) {
  return [&broker](NewConnection& c) -> std::unique_ptr<Endpoint> { return std::make_unique<MqttEndpoint>(broker, c); };
}

}  // namespace musqratt::net
