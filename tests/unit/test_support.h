#pragma once
// Shared helpers for the unit tests: byte-vector builders, a frame-and-decode helper, a
// recording Waker and a small driver around broker::SessionDriver.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <expected>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/session_driver.h"
#include "broker/waker.h"
#include "protocol/codec.h"
#include "protocol/wire.h"
#include "util/clock.h"
#include "util/log.h"

namespace musqratt::test {

namespace pr = protocol;

inline std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(static_cast<char>(x));
  return s;
}

inline std::span<const uint8_t> as_span(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

inline std::string hex(std::string_view s) {
  std::string out;
  char buf[4];
  for (unsigned char c : s) {
    snprintf(buf, sizeof buf, "%02X ", c);
    out += buf;
  }
  return out;
}

inline std::string encode(const pr::Packet& p, pr::Version v) {
  std::string out;
  pr::encode_packet(p, v, out);
  return out;
}

/// Wraps a body in a fixed header.
inline std::string frame(uint8_t first_byte, std::string_view body) {
  std::string out;
  pr::wire::put_u8(out, first_byte);
  pr::wire::put_varint(out, static_cast<uint32_t>(body.size()));
  out.append(body);
  return out;
}

/// Decodes exactly one packet occupying all of `wire`.
inline std::expected<pr::Packet, pr::DecodeError> decode_one(std::string_view wire, pr::Version v) {
  pr::FrameHeader h;
  auto st = pr::read_frame_header(as_span(wire), h);
  if (st != pr::FrameStatus::Complete) return std::unexpected(pr::DecodeError{pr::Reason::MalformedPacket, "bad frame header"});
  if (h.total_size() != wire.size())
    return std::unexpected(pr::DecodeError{pr::Reason::MalformedPacket, "frame size mismatch"});
  return pr::decode_packet(h.first_byte, as_span(wire).subspan(h.header_size, h.remaining_length), v);
}

/// Decodes a body with the given first byte.
inline std::expected<pr::Packet, pr::DecodeError> decode_body(uint8_t first, std::string_view body, pr::Version v) {
  return pr::decode_packet(first, as_span(body), v);
}

/// Splits a byte stream into packets; records a test failure on anything undecodable.
inline std::vector<pr::Packet> decode_stream(std::string_view data, pr::Version v) {
  std::vector<pr::Packet> out;
  size_t pos = 0;
  while (pos < data.size()) {
    pr::FrameHeader h;
    auto st = pr::read_frame_header(as_span(data.substr(pos)), h);
    if (st != pr::FrameStatus::Complete || data.size() - pos < h.total_size()) {
      ADD_FAILURE() << "incomplete packet in output at " << pos << ": " << hex(data.substr(pos));
      break;
    }
    auto d = pr::decode_packet(h.first_byte, as_span(data.substr(pos + h.header_size, h.remaining_length)), v);
    if (!d) {
      ADD_FAILURE() << "undecodable packet in output: " << d.error().detail << ": "
                    << hex(data.substr(pos, h.total_size()));
      break;
    }
    out.push_back(std::move(*d));
    pos += h.total_size();
  }
  return out;
}

class RecordingWaker : public broker::Waker {
 public:
  void wake(uint64_t token) override { tokens.push_back(token); }
  bool woke(uint64_t token) const {
    for (uint64_t t : tokens)
      if (t == token) return true;
    return false;
  }
  std::vector<uint64_t> tokens;
};

/// Silences the broker's logging for the whole test binary.
struct QuietLogs {
  QuietLogs() { util::set_log_level(util::LogLevel::Off); }
};
inline QuietLogs quiet_logs_instance;

/// A SessionDriver plus the helpers to talk to it as a client would.
struct TestClient {
  TestClient(broker::Broker& b, RecordingWaker& w, uint64_t token, pr::Version v, util::TimePoint now)
      : version(v), handler(b, &w, token, "test-peer", now) {}

  void send_raw(std::string_view data, util::TimePoint now) { handler.on_bytes(as_span(data), now); }
  void send(const pr::Packet& p, util::TimePoint now) { send_raw(encode(p, version), now); }

  /// Takes and decodes all output produced so far.
  std::vector<pr::Packet> take() {
    std::string out(handler.pending_output());
    handler.consume_output(out.size());
    return decode_stream(out, version);
  }
  std::string take_raw() {
    std::string out(handler.pending_output());
    handler.consume_output(out.size());
    return out;
  }

  pr::Version version;
  broker::SessionDriver handler;
};

inline pr::Connect make_connect(pr::Version v, std::string client_id, bool clean_start = true,
                                uint16_t keep_alive = 0) {
  pr::Connect c;
  c.version = v;
  c.protocol_name = v == pr::Version::V31 ? "MQIsdp" : "MQTT";
  c.client_id = std::move(client_id);
  c.clean_start = clean_start;
  c.keep_alive = keep_alive;
  return c;
}

inline pr::Publish make_publish(std::string topic, std::string payload, uint8_t qos = 0,
                                uint16_t packet_id = 0, bool retain = false) {
  pr::Publish p;
  p.topic = std::move(topic);
  p.payload = std::move(payload);
  p.qos = qos;
  p.packet_id = packet_id;
  p.retain = retain;
  return p;
}

inline pr::Subscribe make_subscribe(uint16_t packet_id, std::string filter, uint8_t qos = 0) {
  pr::Subscribe s;
  s.packet_id = packet_id;
  s.subscriptions.push_back({std::move(filter), pr::SubscribeOptions{qos}});
  return s;
}

inline pr::Ack make_ack(pr::PacketType t, uint16_t id, pr::Reason r = pr::Reason::Success) {
  pr::Ack a;
  a.type = t;
  a.packet_id = id;
  a.reason = r;
  return a;
}

template <typename T>
const T* as(const pr::Packet& p) {
  return std::get_if<T>(&p);
}

}  // namespace musqratt::test
