#pragma once
// The MQTT codec: frames a byte stream into packets, decodes packet bodies into values and
// encodes values into bytes. Pure functions over caller-owned buffers: no sockets, no sessions,
// no allocation on the strength of a length field alone.
#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "protocol/packets.h"
#include "protocol/reason_table.h"

namespace musqratt::protocol {

/// Why a packet could not be decoded, as the reason code the peer should be told.
struct DecodeError {
  Reason reason = Reason::MalformedPacket;
  const char* detail = "";
};

struct FrameHeader {
  uint8_t first_byte = 0;
  uint32_t remaining_length = 0;
  uint8_t header_size = 0;  // fixed header bytes: 1 + varint length
  PacketType type() const { return static_cast<PacketType>(first_byte >> 4); }
  size_t total_size() const { return header_size + size_t{remaining_length}; }
};

enum class FrameStatus { Complete, NeedMore, Malformed };

/// The low nibble of the first byte every type but PUBLISH must have [MQTT-2.2.2-1, 3.1.1],
/// [MQTT-2.1.3-1, 5.0]: what the encoder writes and the decoder requires.
inline uint8_t header_flags(PacketType t) {
  return (t == PacketType::Pubrel || t == PacketType::Subscribe || t == PacketType::Unsubscribe) ? 0x02 : 0x00;
}

/// Reads the fixed header at the start of `data`. Complete means the header (not necessarily the
/// body) is present. Malformed: packet type 0, or a remaining length needing a fifth byte.
FrameStatus read_frame_header(std::span<const uint8_t> data, FrameHeader& out);

/// Decodes one packet body. CONNECT carries its own version; every other packet is decoded
/// according to `version`, the one negotiated at CONNECT.
std::expected<Packet, DecodeError> decode_packet(uint8_t first_byte, std::span<const uint8_t> body,
                                                 Version version);

/// Appends the encoding of `packet` for `version` to `out`. Returns the number of bytes added.
size_t encode_packet(const Packet& packet, Version version, std::string& out);

/// PUBACK, PUBREC, PUBREL or PUBCOMP without properties, straight into `out`: the same bytes
/// encode_packet makes for such an Ack, without building one (a QoS 1/2 message needs one to
/// three of these each way). Returns the number of bytes added.
size_t encode_ack(PacketType type, uint16_t packet_id, Reason reason, Version version, std::string& out);

/// A PUBLISH body decoded into `out` (whose properties must be empty; topic and payload are
/// replaced): what decode_packet makes for it, without building a Packet. Returns the error,
/// if any.
std::optional<DecodeError> decode_publish_into(uint8_t first_byte, std::span<const uint8_t> body, Version version,
                                              Publish& out);

/// The packet id of an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) whose body is only
/// that id, the usual case; nothing for anything else, which decode_packet then handles.
std::optional<uint16_t> plain_ack_id(uint8_t first_byte, std::span<const uint8_t> body);

}  // namespace musqratt::protocol
