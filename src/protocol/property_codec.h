#pragma once
// Encoding and decoding of MQTT 5 property lists, with the rules of section 2.2.2: each
// property only in the packets that allow it, no duplicates (except User Property and, in
// PUBLISH, Subscription Identifier), values within range.
#include <string>

#include "protocol/codec.h"
#include "protocol/properties.h"
#include "protocol/wire.h"

namespace musqratt::protocol {

/// Where a property list sits: a packet type, or the will properties inside CONNECT.
enum class PropertyContext : uint8_t {
  Will = 0,
  Connect = 1, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp,
  Subscribe, Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth
};
inline PropertyContext context_of(PacketType t) { return static_cast<PropertyContext>(t); }

/// Reads a property length and that many bytes of properties. On failure returns false and
/// fills `err` (0x81 malformed, 0x82 protocol error, per the spec's classification).
bool decode_properties(wire::Reader& in, PropertyContext ctx, Properties& props, DecodeError& err);

/// Appends property length + properties.
void encode_properties(std::string& out, const Properties& props);
size_t properties_size(const Properties& props);

}  // namespace musqratt::protocol
