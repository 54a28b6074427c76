#pragma once
// The WebSocket framing of RFC 6455 section 5: opcodes, close status codes (section 7.4), the
// frame header and the encoder. Pure functions over caller-owned buffers.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace musqratt::web {

enum class WsOpcode : uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};
constexpr bool is_control(WsOpcode op) { return (static_cast<uint8_t>(op) & 0x8) != 0; }
const char* ws_opcode_name(WsOpcode op);

/// Close status codes (RFC 6455 7.4.1).
enum class WsCloseCode : uint16_t {
  Normal = 1000,
  GoingAway = 1001,
  ProtocolError = 1002,
  UnsupportedData = 1003,
  NoStatus = 1005,  // never sent: "the Close frame had no code"
  Abnormal = 1006,  // never sent: "closed without a Close frame"
  InvalidPayload = 1007,
  PolicyViolation = 1008,
  TooBig = 1009,
  MandatoryExtension = 1010,
  InternalError = 1011,
};
/// True for a code a peer may send in a Close frame (RFC 6455 7.4.1, 7.4.2, and the IANA
/// registry's 1012-1014): 1000-1003, 1007-1014 and 3000-4999.
bool ws_close_code_valid_on_wire(uint16_t code);

using WsMaskKey = std::array<uint8_t, 4>;

struct WsFrameHeader {
  bool fin = true;
  uint8_t rsv = 0;  // RSV1..3 as bits 2..0; non-zero only with an extension (none here)
  WsOpcode opcode = WsOpcode::Binary;
  bool masked = false;
  WsMaskKey mask{};
  uint64_t payload_length = 0;
  uint8_t header_size = 0;  // 2 to 14 bytes
};

enum class WsHeaderStatus : uint8_t { Complete, Incomplete, Invalid };

/// Reads the frame header at the start of `data`. Invalid: a 64-bit length with the most
/// significant bit set, or a length not in its shortest form (RFC 6455 5.2: "the minimal
/// number of bytes MUST be used"). Rules about opcodes and masking are the decoder's.
WsHeaderStatus parse_ws_frame_header(std::span<const uint8_t> data, WsFrameHeader& out);

/// XORs `data` with the mask key, starting at byte `offset` of the payload (RFC 6455 5.3).
void ws_apply_mask(std::span<uint8_t> data, const WsMaskKey& key, uint64_t offset);

/// Appends a frame header for a payload of `length` bytes. With a mask key (a client's
/// frames, RFC 6455 5.1), the caller masks the payload it appends with ws_apply_mask.
void append_ws_frame_header(std::string& out, WsOpcode op, uint64_t length, bool fin = true,
                            const std::optional<WsMaskKey>& mask = std::nullopt);
/// Appends a whole frame: header and (masked, with a key) payload.
void append_ws_frame(std::string& out, WsOpcode op, std::span<const uint8_t> payload, bool fin = true,
                     const std::optional<WsMaskKey>& mask = std::nullopt);
inline void append_ws_frame(std::string& out, WsOpcode op, std::string_view payload, bool fin = true,
                            const std::optional<WsMaskKey>& mask = std::nullopt) {
  append_ws_frame(out, op, std::span(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()), fin,
                  mask);
}
/// Appends a Close frame with `code` and a reason (cut to fit the 125-byte control payload
/// at a UTF-8 character boundary).
void append_ws_close(std::string& out, WsCloseCode code, std::string_view reason = {},
                     const std::optional<WsMaskKey>& mask = std::nullopt);
/// Four unpredictable bytes for a client's mask key (RFC 6455 10.3), from OpenSSL's RNG.
WsMaskKey random_ws_mask_key();

/// Largest header: 2 + 8 length bytes + 4 mask bytes.
inline constexpr size_t kWsMaxHeaderSize = 14;
/// Largest control frame payload (RFC 6455 5.5).
inline constexpr size_t kWsMaxControlPayload = 125;

}  // namespace musqratt::web
