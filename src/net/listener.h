#pragma once
// A listening socket and what its connections speak. The app composes the Endpoint stack a
// listener's connections get (MQTT; TLS then MQTT; WebSocket then MQTT; HTTP; ...); workers
// only accept and hand the new connection to the factory.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "broker/waker.h"
#include "net/accepted_socket.h"
#include "net/endpoint.h"
#include "util/clock.h"

namespace musqratt::net {

/// What a new connection's Endpoint stack is built from.
struct NewConnection {
  uint64_t token = 0;              // the connection's identity on its worker (for wake-ups)
  broker::Waker* waker = nullptr;  // wakes the connection from any thread
  std::string peer;                // "address:port"
  util::TimePoint now{};
};

/// Builds the Endpoint stack of a connection. Thread: the accepting worker.
using EndpointFactory = std::function<std::unique_ptr<Endpoint>(NewConnection& c)>;

struct Listener {
  int fd = -1;
  std::string description;  // "mqtt, tcp" / "mqtt, tls" / ... for logs
  EndpointFactory make_endpoint;
  AcceptedSocketOptions accepted;  // kernel options of the sockets it accepts
};

}  // namespace musqratt::net
