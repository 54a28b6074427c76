// MQTT over WebSocket for the load generator (--websocket PATH): the opening handshake and
// RFC 6455 framing between the MQTT byte stream of a Client and its socket. A client's MQTT
// output is sent as one masked binary frame per flush (as browsers' MQTT.js sends one frame
// per write); server frames are unframed back into the MQTT input. Standard library only,
// like the rest of musqratt-bench.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "buffer.hpp"

namespace mqb {

class WsFraming {
 public:
  /// Appends the upgrade request (subprotocol "mqtt") to `raw_out`.
  void start(const std::string& host, uint16_t port, const std::string& path, Buf& raw_out);
  bool open() const { return open_; }
  /// Bytes from the socket: the 101 answer first, then frames whose payload is appended to
  /// `mqtt_in`. Returns false on a refused handshake, a Close or a protocol error. Sets
  /// `just_opened` when the handshake completed in this call.
  bool on_bytes(const uint8_t* data, std::size_t n, Buf& mqtt_in, Buf& raw_out, bool& just_opened);
  /// Frames everything in `mqtt_out` as one masked binary frame into `raw_out`.
  void frame(Buf& mqtt_out, Buf& raw_out);

 private:
  bool parse_frames(Buf& mqtt_in, Buf& raw_out);
  Buf in_;  // raw bytes not yet parsed
  bool open_ = false;
  uint32_t mask_state_ = 0x9e3779b9u;  // xorshift for mask keys; not security, just masking
};

}  // namespace mqb
