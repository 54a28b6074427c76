#include "cluster/envelope.h"

#include <algorithm>
#include <chrono>

#include "broker/persistence.h"
#include "protocol/property_codec.h"
#include "protocol/wire.h"

namespace musqratt::cluster {

namespace {
constexpr uint8_t kMagic = 0x4D, kVersion = 1;
constexpr uint8_t kRetain = 1, kQosShift = 1, kExpiry = 1 << 3, kProperties = 1 << 4;
constexpr size_t kFixed = 3 + 8 + 8;

void put_u64(std::string& out, uint64_t v) {
  for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<char>(v >> s));
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
  return v;
}
}  // namespace

uint64_t remote_origin(const MessageIdentity& who) {
  // splitmix64 of both halves: well spread, cheap, the same on every node.
  uint64_t x = who.instance ^ (who.id * 0x9E3779B97F4A7C15ull);
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 31;
  return x | (1ull << 63);
}

void encode_envelope(std::string& out, const broker::Message& msg, const MessageIdentity& who) {
  uint8_t flags = static_cast<uint8_t>((msg.retain ? kRetain : 0) | (msg.qos & 3) << kQosShift);
  if (msg.expires_at) flags |= kExpiry;
  if (msg.properties) flags |= kProperties;
  out.reserve(out.size() + kFixed + 8 + msg.payload.size() + (msg.properties ? 64 : 0));
  out.push_back(static_cast<char>(kMagic));
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(flags));
  put_u64(out, who.instance);
  put_u64(out, who.id);
  if (msg.expires_at) put_u64(out, static_cast<uint64_t>(broker::wall_ms_from(*msg.expires_at)));
  if (msg.properties) protocol::encode_properties(out, *msg.properties);
  out += msg.payload;
}

std::optional<Decoded> decode_envelope(std::string topic, std::span<const uint8_t> data) {
  if (data.size() < kFixed || data[0] != kMagic || data[1] != kVersion) return std::nullopt;
  const uint8_t flags = data[2];
  if (flags & ~(kRetain | 3 << kQosShift | kExpiry | kProperties)) return std::nullopt;
  const uint8_t qos = (flags >> kQosShift) & 3;
  if (qos > 2) return std::nullopt;
  Decoded d;
  d.who.instance = get_u64(&data[3]);
  d.who.id = get_u64(&data[11]);
  size_t pos = kFixed;
  auto m = std::make_shared<broker::Message>();
  m->topic = std::move(topic);
  m->qos = qos;
  m->retain = flags & kRetain;
  if (flags & kExpiry) {
    if (data.size() < pos + 8) return std::nullopt;
    // Bounded to what an expiry interval can say (2^32 - 1 s from now; a past one is simply
    // expired), so no clock conversion can overflow whatever the bytes claim.
    int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
    int64_t at = static_cast<int64_t>(get_u64(&data[pos]));
    at = std::clamp<int64_t>(at, now_ms - 1000, now_ms + 4294967295000);
    m->expires_at = broker::steady_from_wall_ms(at);
    pos += 8;
  }
  if (flags & kProperties) {
    protocol::wire::Reader in(data.subspan(pos));
    auto props = std::make_shared<protocol::Properties>();
    protocol::DecodeError err;
    if (!protocol::decode_properties(in, protocol::PropertyContext::Publish, *props, err)) return std::nullopt;
    // Only what a broker forwards may travel: anything else was not made by encode_envelope.
    protocol::Properties forwarded;
    forwarded.payload_format_indicator = props->payload_format_indicator;
    forwarded.content_type = props->content_type;
    forwarded.response_topic = props->response_topic;
    forwarded.correlation_data = props->correlation_data;
    forwarded.user_properties = props->user_properties;
    if (!(forwarded == *props)) return std::nullopt;
    pos = data.size() - in.remaining();
    m->properties = std::move(props);
  }
  m->payload.assign(reinterpret_cast<const char*>(data.data()) + pos, data.size() - pos);
  m->origin = remote_origin(d.who);
  d.msg = std::move(m);
  return d;
}

}  // namespace musqratt::cluster
