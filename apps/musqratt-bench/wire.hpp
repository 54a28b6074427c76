// MQTT 3.1.1 / 5.0 wire encoding of the few packets the load generator needs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "buffer.hpp"

namespace mqb::wire {

enum Type : uint8_t {
  kConnect = 1, kConnack, kPublish, kPuback, kPubrec, kPubrel, kPubcomp,
  kSubscribe, kSuback, kUnsubscribe, kUnsuback, kPingreq, kPingresp, kDisconnect, kAuth
};

constexpr std::size_t kMaxRemaining = 268'435'455;

// Result of parse_header: 1 complete header, 0 need more bytes, -1 malformed.
struct Header {
  uint8_t first = 0;
  uint32_t remaining = 0;
  uint32_t header_len = 0;
  uint8_t type() const { return first >> 4; }
};
int parse_header(const uint8_t* p, std::size_t n, Header& h);

// Reads a variable byte integer (MQTT 5 property lengths). Returns bytes used, 0 if malformed.
std::size_t read_varint(const uint8_t* p, std::size_t n, uint32_t& out);
std::size_t put_varint(uint8_t* p, uint32_t v);
std::size_t varint_size(uint32_t v);

// v5: finds the Receive Maximum in CONNACK properties (props points at the property length).
// Returns 65535 when absent, 0 if the properties are malformed.
uint32_t connack_receive_maximum(const uint8_t* props, std::size_t n);

inline uint16_t get_u16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

struct ConnectParams {
  std::string_view client_id;
  bool v5 = false;
  bool clean = true;
  uint16_t keepalive = 60;
  uint32_t session_expiry = 0;  // v5 only; v3 persistent sessions use clean=false
};
void connect(Buf& out, const ConnectParams& p);
void subscribe(Buf& out, uint16_t pid, std::string_view filter, int qos, bool v5);
// PUBACK, PUBREC, PUBREL, PUBCOMP with a packet id (success, no properties).
void ack(Buf& out, Type type, uint16_t pid);
void pingreq(Buf& out);
// v5 with end_session: Session Expiry Interval 0, so a persistent session is dropped.
void disconnect(Buf& out, bool v5, bool end_session = false);

// A complete PUBLISH packet whose packet id and payload header are patched per message.
// Payload layout (little endian): u32 publisher id, u32 sequence, u64 CLOCK_MONOTONIC ns.
constexpr std::size_t kPayloadHeader = 16;
struct PublishTemplate {
  std::vector<uint8_t> bytes;
  std::size_t pid_off = 0;      // 0 when QoS 0
  std::size_t payload_off = 0;
};
PublishTemplate make_publish(std::string_view topic, int qos, bool v5, std::size_t payload_size,
                             uint32_t publisher_id);

}  // namespace mqb::wire
