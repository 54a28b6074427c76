#include "protocol/property_codec.h"

#include <bitset>

namespace musqratt::protocol {
namespace {

using Ctx = PropertyContext;
constexpr uint32_t bit(Ctx c) { return 1u << static_cast<unsigned>(c); }
constexpr uint32_t kPublishLike = bit(Ctx::Publish) | bit(Ctx::Will);
constexpr uint32_t kAckLike = bit(Ctx::Connack) | bit(Ctx::Puback) | bit(Ctx::Pubrec) |
                              bit(Ctx::Pubrel) | bit(Ctx::Pubcomp) | bit(Ctx::Suback) |
                              bit(Ctx::Unsuback) | bit(Ctx::Disconnect) | bit(Ctx::Auth);
constexpr uint32_t kAll = 0xFFFFu;

/// Which contexts may carry each property (section 2.2.2.2 table).
uint32_t allowed_contexts(PropertyId id) {
  switch (id) {
    case PropertyId::PayloadFormatIndicator:
    case PropertyId::MessageExpiryInterval:
    case PropertyId::ContentType:
    case PropertyId::ResponseTopic:
    case PropertyId::CorrelationData: return kPublishLike;
    case PropertyId::SubscriptionIdentifier: return bit(Ctx::Publish) | bit(Ctx::Subscribe);
    case PropertyId::SessionExpiryInterval:
      return bit(Ctx::Connect) | bit(Ctx::Connack) | bit(Ctx::Disconnect);
    case PropertyId::AssignedClientIdentifier:
    case PropertyId::ServerKeepAlive:
    case PropertyId::ResponseInformation:
    case PropertyId::MaximumQos:
    case PropertyId::RetainAvailable:
    case PropertyId::WildcardSubscriptionAvailable:
    case PropertyId::SubscriptionIdentifierAvailable:
    case PropertyId::SharedSubscriptionAvailable: return bit(Ctx::Connack);
    case PropertyId::AuthenticationMethod:
    case PropertyId::AuthenticationData:
      return bit(Ctx::Connect) | bit(Ctx::Connack) | bit(Ctx::Auth);
    case PropertyId::RequestProblemInformation:
    case PropertyId::RequestResponseInformation: return bit(Ctx::Connect);
    case PropertyId::WillDelayInterval: return bit(Ctx::Will);
    case PropertyId::ServerReference: return bit(Ctx::Connack) | bit(Ctx::Disconnect);
    case PropertyId::ReasonString: return kAckLike;
    case PropertyId::ReceiveMaximum:
    case PropertyId::TopicAliasMaximum:
    case PropertyId::MaximumPacketSize: return bit(Ctx::Connect) | bit(Ctx::Connack);
    case PropertyId::TopicAlias: return bit(Ctx::Publish);
    case PropertyId::UserProperty: return kAll;
  }
  return 0;
}

bool known_property(uint8_t id) {
  switch (static_cast<PropertyId>(id)) {
    case PropertyId::PayloadFormatIndicator: case PropertyId::MessageExpiryInterval:
    case PropertyId::ContentType: case PropertyId::ResponseTopic:
    case PropertyId::CorrelationData: case PropertyId::SubscriptionIdentifier:
    case PropertyId::SessionExpiryInterval: case PropertyId::AssignedClientIdentifier:
    case PropertyId::ServerKeepAlive: case PropertyId::AuthenticationMethod:
    case PropertyId::AuthenticationData: case PropertyId::RequestProblemInformation:
    case PropertyId::WillDelayInterval: case PropertyId::RequestResponseInformation:
    case PropertyId::ResponseInformation: case PropertyId::ServerReference:
    case PropertyId::ReasonString: case PropertyId::ReceiveMaximum:
    case PropertyId::TopicAliasMaximum: case PropertyId::TopicAlias:
    case PropertyId::MaximumQos: case PropertyId::RetainAvailable:
    case PropertyId::UserProperty: case PropertyId::MaximumPacketSize:
    case PropertyId::WildcardSubscriptionAvailable:
    case PropertyId::SubscriptionIdentifierAvailable:
    case PropertyId::SharedSubscriptionAvailable: return true;
  }
  return false;
}

bool fail(DecodeError& err, Reason r, const char* detail) {
  err = {r, detail};
  return false;
}

bool read_bool_byte(wire::Reader& in, std::optional<uint8_t>& v, DecodeError& err) {
  uint8_t b;
  if (!in.u8(b)) return fail(err, Reason::MalformedPacket, "truncated property");
  if (b > 1) return fail(err, Reason::ProtocolError, "property value must be 0 or 1");
  v = b;
  return true;
}

template <typename T>
bool read_int(wire::Reader& in, std::optional<T>& v) {
  T x;
  bool ok;
  if constexpr (sizeof(T) == 2) ok = in.u16(x);
  else ok = in.u32(x);
  if (ok) v = x;
  return ok;
}

bool read_str(wire::Reader& in, std::optional<std::string>& v) {
  std::string s;
  if (!in.utf8(s)) return false;
  v = std::move(s);
  return true;
}

bool read_bin(wire::Reader& in, std::optional<std::string>& v) {
  std::string s;
  if (!in.binary(s)) return false;
  v = std::move(s);
  return true;
}

}  // namespace

bool decode_properties(wire::Reader& outer, PropertyContext ctx, Properties& p, DecodeError& err) {
  uint32_t len;
  if (!outer.varint(len)) return fail(err, Reason::MalformedPacket, "bad property length");
  std::span<const uint8_t> block;
  if (!outer.bytes(len, block)) return fail(err, Reason::MalformedPacket, "property length beyond packet");
  wire::Reader in(block);
  std::bitset<64> seen;
  while (!in.at_end()) {
    uint32_t raw_id;
    if (!in.varint(raw_id)) return fail(err, Reason::MalformedPacket, "bad property identifier");
    if (raw_id > 0xFF || !known_property(static_cast<uint8_t>(raw_id)))
      return fail(err, Reason::MalformedPacket, "unknown property identifier");
    auto id = static_cast<PropertyId>(raw_id);
    if ((allowed_contexts(id) & bit(ctx)) == 0)
      return fail(err, Reason::ProtocolError, "property not allowed in this packet");
    bool repeatable = id == PropertyId::UserProperty ||
                      (id == PropertyId::SubscriptionIdentifier && ctx == Ctx::Publish);
    if (!repeatable) {
      if (seen.test(raw_id)) return fail(err, Reason::ProtocolError, "duplicate property");
      seen.set(raw_id);
    }
    bool ok = true;
    switch (id) {
      case PropertyId::PayloadFormatIndicator:
        if (!read_bool_byte(in, p.payload_format_indicator, err)) return false;
        break;
      case PropertyId::MessageExpiryInterval: ok = read_int(in, p.message_expiry_interval); break;
      case PropertyId::ContentType: ok = read_str(in, p.content_type); break;
      case PropertyId::ResponseTopic: ok = read_str(in, p.response_topic); break;
      case PropertyId::CorrelationData: ok = read_bin(in, p.correlation_data); break;
      case PropertyId::SubscriptionIdentifier: {
        uint32_t v;
        ok = in.varint(v);
        if (ok && v == 0) return fail(err, Reason::ProtocolError, "subscription identifier 0");
        if (ok) p.subscription_identifiers.push_back(v);
        break;
      }
      case PropertyId::SessionExpiryInterval: ok = read_int(in, p.session_expiry_interval); break;
      case PropertyId::AssignedClientIdentifier: ok = read_str(in, p.assigned_client_identifier); break;
      case PropertyId::ServerKeepAlive: ok = read_int(in, p.server_keep_alive); break;
      case PropertyId::AuthenticationMethod: ok = read_str(in, p.authentication_method); break;
      case PropertyId::AuthenticationData: ok = read_bin(in, p.authentication_data); break;
      case PropertyId::RequestProblemInformation:
        if (!read_bool_byte(in, p.request_problem_information, err)) return false;
        break;
      case PropertyId::WillDelayInterval: ok = read_int(in, p.will_delay_interval); break;
      case PropertyId::RequestResponseInformation:
        if (!read_bool_byte(in, p.request_response_information, err)) return false;
        break;
      case PropertyId::ResponseInformation: ok = read_str(in, p.response_information); break;
      case PropertyId::ServerReference: ok = read_str(in, p.server_reference); break;
      case PropertyId::ReasonString: ok = read_str(in, p.reason_string); break;
      case PropertyId::ReceiveMaximum:
        ok = read_int(in, p.receive_maximum);
        if (ok && *p.receive_maximum == 0) return fail(err, Reason::ProtocolError, "receive maximum 0");
        break;
      case PropertyId::TopicAliasMaximum: ok = read_int(in, p.topic_alias_maximum); break;
      case PropertyId::TopicAlias:
        ok = read_int(in, p.topic_alias);
        if (ok && *p.topic_alias == 0) return fail(err, Reason::TopicAliasInvalid, "topic alias 0");  // [MQTT-3.3.2-8, 5.0]
        break;
      case PropertyId::MaximumQos: {
        uint8_t b;
        ok = in.u8(b);
        if (ok && b > 1) return fail(err, Reason::ProtocolError, "maximum QoS must be 0 or 1");
        if (ok) p.maximum_qos = b;
        break;
      }
      case PropertyId::RetainAvailable:
        if (!read_bool_byte(in, p.retain_available, err)) return false;
        break;
      case PropertyId::UserProperty: {
        std::string k, v;
        ok = in.utf8(k) && in.utf8(v);
        if (ok) p.user_properties.emplace_back(std::move(k), std::move(v));
        break;
      }
      case PropertyId::MaximumPacketSize:
        ok = read_int(in, p.maximum_packet_size);
        if (ok && *p.maximum_packet_size == 0)
          return fail(err, Reason::ProtocolError, "maximum packet size 0");
        break;
      case PropertyId::WildcardSubscriptionAvailable:
        if (!read_bool_byte(in, p.wildcard_subscription_available, err)) return false;
        break;
      case PropertyId::SubscriptionIdentifierAvailable:
        if (!read_bool_byte(in, p.subscription_identifier_available, err)) return false;
        break;
      case PropertyId::SharedSubscriptionAvailable:
        if (!read_bool_byte(in, p.shared_subscription_available, err)) return false;
        break;
    }
    if (!ok) return fail(err, Reason::MalformedPacket, in.utf8_error() ? "invalid UTF-8 in property" : "truncated property");
  }
  return true;
}

namespace {

template <typename Sink>
void for_each_property(const Properties& p, Sink&& sink) {
  using Id = PropertyId;
  if (p.payload_format_indicator) sink.byte(Id::PayloadFormatIndicator, *p.payload_format_indicator);
  if (p.message_expiry_interval) sink.u32(Id::MessageExpiryInterval, *p.message_expiry_interval);
  if (p.content_type) sink.str(Id::ContentType, *p.content_type);
  if (p.response_topic) sink.str(Id::ResponseTopic, *p.response_topic);
  if (p.correlation_data) sink.str(Id::CorrelationData, *p.correlation_data);
  for (uint32_t v : p.subscription_identifiers) sink.varint(Id::SubscriptionIdentifier, v);
  if (p.session_expiry_interval) sink.u32(Id::SessionExpiryInterval, *p.session_expiry_interval);
  if (p.assigned_client_identifier) sink.str(Id::AssignedClientIdentifier, *p.assigned_client_identifier);
  if (p.server_keep_alive) sink.u16(Id::ServerKeepAlive, *p.server_keep_alive);
  if (p.authentication_method) sink.str(Id::AuthenticationMethod, *p.authentication_method);
  if (p.authentication_data) sink.str(Id::AuthenticationData, *p.authentication_data);
  if (p.request_problem_information) sink.byte(Id::RequestProblemInformation, *p.request_problem_information);
  if (p.will_delay_interval) sink.u32(Id::WillDelayInterval, *p.will_delay_interval);
  if (p.request_response_information) sink.byte(Id::RequestResponseInformation, *p.request_response_information);
  if (p.response_information) sink.str(Id::ResponseInformation, *p.response_information);
  if (p.server_reference) sink.str(Id::ServerReference, *p.server_reference);
  if (p.reason_string) sink.str(Id::ReasonString, *p.reason_string);
  if (p.receive_maximum) sink.u16(Id::ReceiveMaximum, *p.receive_maximum);
  if (p.topic_alias_maximum) sink.u16(Id::TopicAliasMaximum, *p.topic_alias_maximum);
  if (p.topic_alias) sink.u16(Id::TopicAlias, *p.topic_alias);
  if (p.maximum_qos) sink.byte(Id::MaximumQos, *p.maximum_qos);
  if (p.retain_available) sink.byte(Id::RetainAvailable, *p.retain_available);
  for (const auto& [k, v] : p.user_properties) sink.pair(Id::UserProperty, k, v);
  if (p.maximum_packet_size) sink.u32(Id::MaximumPacketSize, *p.maximum_packet_size);
  if (p.wildcard_subscription_available) sink.byte(Id::WildcardSubscriptionAvailable, *p.wildcard_subscription_available);
  if (p.subscription_identifier_available) sink.byte(Id::SubscriptionIdentifierAvailable, *p.subscription_identifier_available);
  if (p.shared_subscription_available) sink.byte(Id::SharedSubscriptionAvailable, *p.shared_subscription_available);
}

struct SizeSink {
  size_t n = 0;
  void byte(PropertyId, uint8_t) { n += 2; }
  void u16(PropertyId, uint16_t) { n += 3; }
  void u32(PropertyId, uint32_t) { n += 5; }
  void varint(PropertyId, uint32_t v) { n += 1 + wire::varint_size(v); }
  void str(PropertyId, const std::string& s) { n += 3 + s.size(); }
  void pair(PropertyId, const std::string& k, const std::string& v) { n += 5 + k.size() + v.size(); }
};

struct WriteSink {
  std::string& out;
  void id(PropertyId i) { wire::put_u8(out, static_cast<uint8_t>(i)); }
  void byte(PropertyId i, uint8_t v) { id(i); wire::put_u8(out, v); }
  void u16(PropertyId i, uint16_t v) { id(i); wire::put_u16(out, v); }
  void u32(PropertyId i, uint32_t v) { id(i); wire::put_u32(out, v); }
  void varint(PropertyId i, uint32_t v) { id(i); wire::put_varint(out, v); }
  void str(PropertyId i, const std::string& s) { id(i); wire::put_string(out, s); }
  void pair(PropertyId i, const std::string& k, const std::string& v) {
    id(i);
    wire::put_string(out, k);
    wire::put_string(out, v);
  }
};

}  // namespace

size_t properties_size(const Properties& p) {
  SizeSink s;
  for_each_property(p, s);
  return s.n;
}

void encode_properties(std::string& out, const Properties& p) {
  wire::put_varint(out, static_cast<uint32_t>(properties_size(p)));
  WriteSink w{out};
  for_each_property(p, w);
}

}  // namespace musqratt::protocol
