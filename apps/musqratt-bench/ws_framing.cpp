#include "ws_framing.hpp"

#include <cstring>
#include <string_view>

namespace mqb {

void WsFraming::start(const std::string& host, uint16_t port, const std::string& path, Buf& raw_out) {
  // The key only has to be 16 bytes in base64; the server's accept value is not checked here.
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    "Sec-WebSocket-Protocol: mqtt\r\n\r\n";
  raw_out.append(req.data(), req.size());
}

bool WsFraming::on_bytes(const uint8_t* data, std::size_t n, Buf& mqtt_in, Buf& raw_out, bool& just_opened) {
  just_opened = false;
  in_.append(data, n);
  if (!open_) {
    std::string_view head(reinterpret_cast<const char*>(in_.begin()), in_.size());
    std::size_t end = head.find("\r\n\r\n");
    if (end == std::string_view::npos) return in_.size() < 16384;
    if (!head.starts_with("HTTP/1.1 101")) return false;
    in_.consume(end + 4);
    open_ = just_opened = true;
  }
  return parse_frames(mqtt_in, raw_out);
}

bool WsFraming::parse_frames(Buf& mqtt_in, Buf& raw_out) {
  while (in_.size() >= 2) {
    const uint8_t* p = in_.begin();
    const uint8_t op = p[0] & 0x0F;
    if (p[1] & 0x80) return false;  // server frames are never masked
    uint64_t len = p[1] & 0x7F;
    std::size_t hl = 2;
    if (len == 126) {
      if (in_.size() < 4) return true;
      len = uint64_t(p[2]) << 8 | p[3];
      hl = 4;
    } else if (len == 127) {
      if (in_.size() < 10) return true;
      len = 0;
      for (int i = 0; i < 8; ++i) len = len << 8 | p[2 + i];
      hl = 10;
    }
    if (in_.size() < hl + len) return true;
    const uint8_t* payload = p + hl;
    if (op == 0x2 || op == 0x0) {
      mqtt_in.append(payload, std::size_t(len));
    } else if (op == 0x9) {  // ping: pong with the same payload
      Buf tmp;
      tmp.append(payload, std::size_t(len));
      // Reuse frame() for masking; it frames as binary, so patch the opcode afterwards.
      std::size_t at = raw_out.size();
      frame(tmp, raw_out);
      const_cast<uint8_t*>(raw_out.begin())[at] = 0x8A;
    } else if (op == 0x8) {
      return false;
    }
    in_.consume(hl + std::size_t(len));
  }
  return true;
}

void WsFraming::frame(Buf& mqtt_out, Buf& raw_out) {
  const std::size_t n = mqtt_out.size();
  if (n == 0) return;
  uint8_t head[14];
  std::size_t hl = 0;
  head[hl++] = 0x82;  // FIN, binary
  if (n < 126) {
    head[hl++] = uint8_t(0x80 | n);
  } else if (n < 65536) {
    head[hl++] = 0x80 | 126;
    head[hl++] = uint8_t(n >> 8);
    head[hl++] = uint8_t(n);
  } else {
    head[hl++] = 0x80 | 127;
    for (int i = 7; i >= 0; --i) head[hl++] = uint8_t(uint64_t(n) >> (8 * i));
  }
  mask_state_ ^= mask_state_ << 13;
  mask_state_ ^= mask_state_ >> 17;
  mask_state_ ^= mask_state_ << 5;
  uint8_t key[4];
  std::memcpy(key, &mask_state_, 4);
  std::memcpy(head + hl, key, 4);
  hl += 4;
  raw_out.append(head, hl);
  uint8_t* dst = raw_out.reserve(n);
  const uint8_t* src = mqtt_out.begin();
  // Masking four bytes at a time; n is not necessarily a multiple of 4.
  uint32_t k32;
  std::memcpy(&k32, key, 4);
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t w;
    std::memcpy(&w, src + i, 4);
    w ^= k32;
    std::memcpy(dst + i, &w, 4);
  }
  for (; i < n; ++i) dst[i] = src[i] ^ key[i & 3];
  raw_out.commit(n);
  mqtt_out.clear();
}

}  // namespace mqb
