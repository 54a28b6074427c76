#include "protocol/publish_encoder.h"

#include "protocol/property_codec.h"
#include "protocol/wire.h"

namespace musqratt::protocol {
namespace {

/// Properties of the outgoing PUBLISH: the message's own, except Subscription Identifier,
/// Topic Alias and Message Expiry, which are per receiver.
size_t props_body_size(const PublishView& p) {
  size_t n = 0;
  if (p.properties) {
    const Properties& m = *p.properties;
    if (m.payload_format_indicator) n += 2;
    if (p.message_expiry_override || m.message_expiry_interval) n += 5;
    if (m.content_type) n += 3 + m.content_type->size();
    if (m.response_topic) n += 3 + m.response_topic->size();
    if (m.correlation_data) n += 3 + m.correlation_data->size();
    for (const auto& [k, v] : m.user_properties) n += 5 + k.size() + v.size();
  } else if (p.message_expiry_override) {
    n += 5;
  }
  for (uint32_t id : p.subscription_identifiers) n += 1 + wire::varint_size(id);
  if (p.topic_alias) n += 3;
  return n;
}

void put_props(const PublishView& p, std::string& out) {
  using namespace wire;
  auto id = [&](PropertyId i) { put_u8(out, static_cast<uint8_t>(i)); };
  const Properties* m = p.properties;
  if (m && m->payload_format_indicator) { id(PropertyId::PayloadFormatIndicator); put_u8(out, *m->payload_format_indicator); }
  if (p.message_expiry_override) { id(PropertyId::MessageExpiryInterval); put_u32(out, *p.message_expiry_override); }
  else if (m && m->message_expiry_interval) { id(PropertyId::MessageExpiryInterval); put_u32(out, *m->message_expiry_interval); }
  if (m && m->content_type) { id(PropertyId::ContentType); put_string(out, *m->content_type); }
  if (m && m->response_topic) { id(PropertyId::ResponseTopic); put_string(out, *m->response_topic); }
  if (m && m->correlation_data) { id(PropertyId::CorrelationData); put_string(out, *m->correlation_data); }
  if (m) for (const auto& [k, v] : m->user_properties) { id(PropertyId::UserProperty); put_string(out, k); put_string(out, v); }
  for (uint32_t s : p.subscription_identifiers) { id(PropertyId::SubscriptionIdentifier); put_varint(out, s); }
  if (p.topic_alias) { id(PropertyId::TopicAlias); put_u16(out, p.topic_alias); }
}

size_t body_size(const PublishView& p, Version v, size_t props) {
  size_t n = 2 + p.topic.size() + p.payload.size();
  if (p.qos > 0) n += 2;
  if (v == Version::V5) n += wire::varint_size(static_cast<uint32_t>(props)) + props;
  return n;
}

}  // namespace

size_t publish_size(const PublishView& p, Version v) {
  size_t props = v == Version::V5 ? props_body_size(p) : 0;
  size_t body = body_size(p, v, props);
  return 1 + wire::varint_size(static_cast<uint32_t>(body)) + body;
}

namespace {

/// Fixed header, topic, packet id and properties; `body` counts the payload too.
void put_head(const PublishView& p, Version v, size_t props, size_t body, std::string& out) {
  using namespace wire;
  uint8_t first = static_cast<uint8_t>(0x30 | (p.dup ? 0x08 : 0) | (p.qos << 1) | (p.retain ? 1 : 0));
  put_u8(out, first);
  put_varint(out, static_cast<uint32_t>(body));
  put_string(out, p.topic);
  if (p.qos > 0) put_u16(out, p.packet_id);
  if (v == Version::V5) {
    put_varint(out, static_cast<uint32_t>(props));
    put_props(p, out);
  }
}

}  // namespace

size_t encode_publish(const PublishView& p, Version v, std::string& out) {
  size_t props = v == Version::V5 ? props_body_size(p) : 0;
  size_t body = body_size(p, v, props);
  size_t before = out.size();
  out.reserve(before + 5 + body);
  put_head(p, v, props, body, out);
  out.append(p.payload);
  return out.size() - before;
}

size_t encode_publish_head(const PublishView& p, Version v, std::string& out) {
  size_t props = v == Version::V5 ? props_body_size(p) : 0;
  size_t body = body_size(p, v, props);
  size_t before = out.size();
  put_head(p, v, props, body, out);
  return out.size() - before + p.payload.size();
}

}  // namespace musqratt::protocol
