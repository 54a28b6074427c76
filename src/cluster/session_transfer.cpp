#include "cluster/session_transfer.h"

#include "cluster/envelope.h"
#include "protocol/wire.h"

namespace musqratt::cluster {

namespace w = protocol::wire;

namespace {
constexpr char kMagic[4] = {'M', 'Q', 'S', 1};

void put_u64(std::string& out, uint64_t v) {
  w::put_u32(out, static_cast<uint32_t>(v >> 32));
  w::put_u32(out, static_cast<uint32_t>(v));
}
bool get_u64(w::Reader& in, uint64_t& v) {
  uint32_t hi = 0, lo = 0;
  if (!in.u32(hi) || !in.u32(lo)) return false;
  v = uint64_t{hi} << 32 | lo;
  return true;
}
uint8_t options_byte(const protocol::SubscribeOptions& o) {
  return static_cast<uint8_t>((o.qos & 3) | (o.no_local ? 4 : 0) | (o.retain_as_published ? 8 : 0) |
                              (o.retain_handling & 3) << 4);
}
}  // namespace

uint64_t message_tag(const broker::Message& m, uint64_t instance) {
  return is_remote_origin(m.origin) ? m.origin : remote_origin({instance, m.id});
}

void encode_transfer(std::string& out, const broker::RestoredSession& s, uint64_t instance) {
  out.append(kMagic, 4);
  w::put_u32(out, s.expiry);
  w::put_u8(out, s.disconnected_wall_ms ? 1 : 0);
  if (s.disconnected_wall_ms) put_u64(out, static_cast<uint64_t>(*s.disconnected_wall_ms));
  w::put_varint(out, static_cast<uint32_t>(s.subscriptions.size()));
  for (const auto& [filter, opt] : s.subscriptions) {
    w::put_string(out, filter);
    w::put_u8(out, options_byte(opt.first));
    w::put_varint(out, opt.second);
  }
  w::put_varint(out, static_cast<uint32_t>(s.outbound.size()));
  std::string env;
  for (const broker::RestoredOutbound& o : s.outbound) {
    w::put_u8(out, static_cast<uint8_t>(o.state));
    w::put_u16(out, o.packet_id);
    w::put_u8(out, o.qos);
    w::put_u8(out, o.retain ? 1 : 0);
    w::put_varint(out, static_cast<uint32_t>(o.subscription_ids.size()));
    for (uint32_t id : o.subscription_ids) w::put_varint(out, id);
    w::put_u8(out, o.msg ? 1 : 0);
    if (!o.msg) continue;  // in flight awaiting PUBCOMP: the payload is gone
    put_u64(out, message_tag(*o.msg, instance));
    w::put_string(out, o.msg->topic);
    env.clear();
    encode_envelope(env, *o.msg, {0, 0});
    w::put_u32(out, static_cast<uint32_t>(env.size()));
    out += env;
  }
  w::put_varint(out, static_cast<uint32_t>(s.incoming_qos2.size()));
  for (uint16_t id : s.incoming_qos2) w::put_u16(out, id);
}

std::optional<broker::RestoredSession> decode_transfer(std::span<const uint8_t> data, std::string client_id) {
  if (data.size() < 4 || std::string_view(reinterpret_cast<const char*>(data.data()), 4) != std::string_view(kMagic, 4))
    return std::nullopt;
  w::Reader in(data.subspan(4));
  broker::RestoredSession s;
  s.client_id = std::move(client_id);
  uint8_t flag = 0;
  if (!in.u32(s.expiry) || !in.u8(flag) || flag > 1) return std::nullopt;
  if (flag) {
    uint64_t v = 0;
    if (!get_u64(in, v)) return std::nullopt;
    s.disconnected_wall_ms = static_cast<int64_t>(v);
  }
  uint32_t n = 0;
  if (!in.varint(n) || n > in.remaining()) return std::nullopt;
  for (uint32_t i = 0; i < n; ++i) {
    std::string filter;
    uint8_t opts = 0;
    uint32_t id = 0;
    if (!in.utf8(filter) || !in.u8(opts) || !in.varint(id) || opts > 0x3F) return std::nullopt;
    protocol::SubscribeOptions o;
    o.qos = opts & 3;
    o.no_local = opts & 4;
    o.retain_as_published = opts & 8;
    o.retain_handling = (opts >> 4) & 3;
    if (o.qos > 2 || o.retain_handling > 2) return std::nullopt;
    s.subscriptions.push_back({std::move(filter), {o, id}});
  }
  if (!in.varint(n) || n > in.remaining()) return std::nullopt;
  for (uint32_t i = 0; i < n; ++i) {
    broker::RestoredOutbound o;
    uint8_t state = 0, retain = 0, has = 0;
    uint32_t ids = 0;
    if (!in.u8(state) || state > 3 || !in.u16(o.packet_id) || !in.u8(o.qos) || o.qos > 2 || !in.u8(retain) ||
        retain > 1 || !in.varint(ids) || ids > in.remaining())
      return std::nullopt;
    o.state = static_cast<broker::OutboundState>(state);
    o.retain = retain;
    for (uint32_t k = 0; k < ids; ++k) {
      uint32_t id = 0;
      if (!in.varint(id)) return std::nullopt;
      o.subscription_ids.push_back(id);
    }
    if (!in.u8(has) || has > 1) return std::nullopt;
    // Only an exchange awaiting PUBCOMP may lack its message, and it must.
    if (has != (o.state != broker::OutboundState::AwaitPubcomp)) return std::nullopt;
    if (has) {
      uint64_t tag = 0;
      std::string topic;
      uint32_t len = 0;
      std::span<const uint8_t> env;
      if (!get_u64(in, tag) || !is_remote_origin(tag) || !in.utf8(topic) || !in.u32(len) || !in.bytes(len, env))
        return std::nullopt;
      auto d = decode_envelope(std::move(topic), env);
      if (!d) return std::nullopt;
      auto m = std::make_shared<broker::Message>(*d->msg);
      m->origin = tag;
      o.msg = std::move(m);
    }
    s.outbound.push_back(std::move(o));
  }
  if (!in.varint(n) || n > in.remaining()) return std::nullopt;
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t id = 0;
    if (!in.u16(id)) return std::nullopt;
    s.incoming_qos2.push_back(id);
  }
  if (!in.at_end() || !in.ok()) return std::nullopt;
  return s;
}

}  // namespace musqratt::cluster
