#pragma once
// The one interface between a connection's transport and what runs over it. The connection
// driver moves bytes between the socket (epoll, io_uring, lwIP) and the top Endpoint of the
// connection; it knows nothing else about it. An Endpoint is either an application (the MQTT
// session driver, an HTTP handler) or a stream layer that transforms bytes for the Endpoint
// above it (TLS, WebSocket), so layers stack: socket <-> TLS <-> WebSocket <-> MQTT.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "util/clock.h"

namespace musqratt::net {

/// Thread: used only by the worker that owns the connection. Ownership: the connection owns
/// its top Endpoint; a stream layer owns the Endpoint above it.
class Endpoint {
 public:
  virtual ~Endpoint() = default;

  /// Bytes received from below.
  virtual void on_bytes(std::span<const uint8_t> data, util::TimePoint now) = 0;
  /// Bytes to send below, oldest first. A layer may produce them here from the output of the
  /// Endpoint above it, so this is not const. Valid until the next call on this Endpoint.
  virtual std::string_view pending_output() = 0;
  /// The same bytes as up to `seg.size()` runs, for a transport that writes gathered: an
  /// Endpoint that keeps large payloads where they lie hands them over without a copy.
  /// Returns the runs filled (0: nothing to write). Valid until the next call on this Endpoint.
  virtual size_t pending_segments(std::span<std::string_view> seg) {
    std::string_view out = pending_output();
    if (out.empty() || seg.empty()) return 0;
    seg[0] = out;
    return 1;
  }
  /// `n` bytes of pending_output() were handed to the layer below. Once all of it is gone the
  /// Endpoint may produce more (queued messages it held back while output was high).
  virtual void consume_output(size_t n, util::TimePoint now) = 0;
  /// True once the connection should be closed after pending output is written.
  virtual bool closing() const = 0;
  /// Why the connection closes, for the log ("" while it does not).
  virtual std::string_view close_reason() const { return {}; }

  /// Another thread has work for this connection (messages queued, a takeover, a reload).
  virtual void on_wake(util::TimePoint now) = 0;
  /// Called now and then (at least every second): timeouts.
  virtual void on_tick(util::TimePoint now) = 0;
  /// The server is stopping: say goodbye if the protocol has a way, then close.
  virtual void on_shutdown() = 0;
  /// The connection is gone (closed by either side or on an error). Idempotent.
  virtual void on_closed(util::TimePoint now) = 0;
  /// A layer below authenticated the peer (TLS client certificate): its name.
  virtual void on_peer_identity(std::string /*name*/) {}
  /// Why the transport or a layer below gave up on the connection (an outgoing connection
  /// refused or timed out, a TLS handshake that failed), told before on_closed so the
  /// application can report it. Not called for an ordinary close.
  virtual void on_transport_error(std::string_view /*reason*/) {}
};

}  // namespace musqratt::net
