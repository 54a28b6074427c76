#include "web/ws_frame.h"

#include <openssl/rand.h>

#include <stdexcept>

namespace musqratt::web {

const char* ws_opcode_name(WsOpcode op) {
  switch (op) {
    case WsOpcode::Continuation: return "continuation";
    case WsOpcode::Text: return "text";
    case WsOpcode::Binary: return "binary";
    case WsOpcode::Close: return "close";
    case WsOpcode::Ping: return "ping";
    case WsOpcode::Pong: return "pong";
  }
  return "reserved";
}

bool ws_close_code_valid_on_wire(uint16_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}

WsHeaderStatus parse_ws_frame_header(std::span<const uint8_t> data, WsFrameHeader& out) {
  if (data.size() < 2) return WsHeaderStatus::Incomplete;
  const uint8_t b0 = data[0], b1 = data[1];
  out.fin = (b0 & 0x80) != 0;
  out.rsv = static_cast<uint8_t>((b0 >> 4) & 0x7);
  out.opcode = static_cast<WsOpcode>(b0 & 0x0F);
  out.masked = (b1 & 0x80) != 0;
  const uint8_t len7 = b1 & 0x7F;
  size_t pos = 2;
  uint64_t len = len7;
  if (len7 == 126) {
    if (data.size() < pos + 2) return WsHeaderStatus::Incomplete;
    len = (uint64_t{data[2]} << 8) | data[3];
    pos += 2;
    if (len < 126) return WsHeaderStatus::Invalid;  // not the shortest form
  } else if (len7 == 127) {
    if (data.size() < pos + 8) return WsHeaderStatus::Incomplete;
    len = 0;
    for (size_t i = 0; i < 8; ++i) len = (len << 8) | data[2 + i];
    pos += 8;
    if (len >> 63) return WsHeaderStatus::Invalid;  // the most significant bit MUST be 0
    if (len <= 0xFFFF) return WsHeaderStatus::Invalid;  // not the shortest form
  }
  if (out.masked) {
    if (data.size() < pos + 4) return WsHeaderStatus::Incomplete;
    for (size_t i = 0; i < 4; ++i) out.mask[i] = data[pos + i];
    pos += 4;
  } else {
    out.mask = {};
  }
  out.payload_length = len;
  out.header_size = static_cast<uint8_t>(pos);
  return WsHeaderStatus::Complete;
}

void ws_apply_mask(std::span<uint8_t> data, const WsMaskKey& key, uint64_t offset) {
  size_t i = 0;
  // Align to the key, then XOR eight bytes at a time: the payload of every frame passes here.
  while (i < data.size() && ((offset + i) & 3) != 0) {
    data[i] ^= key[(offset + i) & 3];
    ++i;
  }
  uint64_t k8 = 0;
  for (int r = 0; r < 8; ++r) reinterpret_cast<uint8_t*>(&k8)[r] = key[r & 3];
  for (; i + 8 <= data.size(); i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, data.data() + i, 8);
    w ^= k8;
    __builtin_memcpy(data.data() + i, &w, 8);
  }
  for (; i < data.size(); ++i) data[i] ^= key[(offset + i) & 3];
}

void append_ws_frame_header(std::string& out, WsOpcode op, uint64_t length, bool fin,
                            const std::optional<WsMaskKey>& mask) {
  char h[kWsMaxHeaderSize];
  size_t n = 0;
  h[n++] = static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  const uint8_t m = mask ? 0x80 : 0;
  if (length < 126) {
    h[n++] = static_cast<char>(m | length);
  } else if (length <= 0xFFFF) {
    h[n++] = static_cast<char>(m | 126);
    h[n++] = static_cast<char>(length >> 8);
    h[n++] = static_cast<char>(length);
  } else {
    h[n++] = static_cast<char>(m | 127);
    for (int s = 56; s >= 0; s -= 8) h[n++] = static_cast<char>(length >> s);
  }
  if (mask)
    for (uint8_t b : *mask) h[n++] = static_cast<char>(b);
  out.append(h, n);
}

void append_ws_frame(std::string& out, WsOpcode op, std::span<const uint8_t> payload, bool fin,
                     const std::optional<WsMaskKey>& mask) {
  append_ws_frame_header(out, op, payload.size(), fin, mask);
  const size_t at = out.size();
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (mask) ws_apply_mask(std::span(reinterpret_cast<uint8_t*>(out.data() + at), payload.size()), *mask, 0);
}

void append_ws_close(std::string& out, WsCloseCode code, std::string_view reason,
                     const std::optional<WsMaskKey>& mask) {
  size_t n = std::min(reason.size(), kWsMaxControlPayload - 2);
  // Do not cut a UTF-8 sequence: back up over continuation bytes to a character start.
  if (n < reason.size())
    while (n > 0 && (static_cast<uint8_t>(reason[n]) & 0xC0) == 0x80) --n;
  std::string payload;
  payload.push_back(static_cast<char>(static_cast<uint16_t>(code) >> 8));
  payload.push_back(static_cast<char>(static_cast<uint16_t>(code) & 0xFF));
  payload.append(reason.substr(0, n));
  append_ws_frame(out, WsOpcode::Close, payload, true, mask);
}

WsMaskKey random_ws_mask_key() {
  WsMaskKey k;
  if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) throw std::runtime_error("RAND_bytes failed");
  return k;
}

}  // namespace musqratt::web
