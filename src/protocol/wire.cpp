#include "protocol/wire.h"

#include "protocol/utf8.h"

namespace musqratt::protocol::wire {

bool Reader::u8(uint8_t& v) {
  if (!ok_ || remaining() < 1) return fail();
  v = data_[pos_++];
  return true;
}

bool Reader::u16(uint16_t& v) {
  if (!ok_ || remaining() < 2) return fail();
  v = static_cast<uint16_t>(data_[pos_] << 8 | data_[pos_ + 1]);
  pos_ += 2;
  return true;
}

bool Reader::u32(uint32_t& v) {
  if (!ok_ || remaining() < 4) return fail();
  v = uint32_t{data_[pos_]} << 24 | uint32_t{data_[pos_ + 1]} << 16 |
      uint32_t{data_[pos_ + 2]} << 8 | data_[pos_ + 3];
  pos_ += 4;
  return true;
}

bool Reader::varint(uint32_t& v) {
  v = 0;
  for (int i = 0; i < 4; ++i) {
    uint8_t b;
    if (!u8(b)) return false;
    v |= uint32_t{b & 0x7Fu} << (7 * i);
    if ((b & 0x80) == 0) {
      // Non-minimal encodings (a trailing 0x00 continuation) are tolerated: 5.0 only requires
      // the minimum on send [MQTT-1.5.5-1, 5.0]; 3.1.1 (section 2.2.3) states no such rule.
      return true;
    }
  }
  return fail();  // a fifth byte would be needed: malformed
}

bool Reader::bytes(size_t n, std::span<const uint8_t>& v) {
  if (!ok_ || remaining() < n) return fail();
  v = data_.subspan(pos_, n);
  pos_ += n;
  return true;
}

bool Reader::binary(std::string& v) {
  uint16_t len;
  std::span<const uint8_t> b;
  if (!u16(len) || !bytes(len, b)) return false;
  v.assign(reinterpret_cast<const char*>(b.data()), b.size());
  return true;
}

bool Reader::utf8(std::string& v) {
  if (!binary(v)) return false;
  if (!valid_mqtt_utf8(v)) {
    utf8_error_ = true;
    return fail();
  }
  return true;
}

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}
void put_u32(std::string& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v & 0xFFFF));
}
void put_varint(std::string& out, uint32_t v) {
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v);
}
void put_string(std::string& out, std::string_view s) {
  put_u16(out, static_cast<uint16_t>(s.size()));
  out.append(s);
}
size_t varint_size(uint32_t v) { return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4; }

}  // namespace musqratt::protocol::wire
