#include "wire.hpp"

#include <cstring>

namespace mqb::wire {

int parse_header(const uint8_t* p, std::size_t n, Header& h) {
  if (n < 2) return 0;
  uint32_t value = 0;
  for (std::size_t i = 1; i < 5; ++i) {
    if (i >= n) return 0;
    value |= uint32_t(p[i] & 0x7f) << (7 * (i - 1));
    if (!(p[i] & 0x80)) {
      h.first = p[0];
      h.remaining = value;
      h.header_len = uint32_t(i + 1);
      return 1;
    }
  }
  return -1;
}

std::size_t read_varint(const uint8_t* p, std::size_t n, uint32_t& out) {
  out = 0;
  for (std::size_t i = 0; i < 4 && i < n; ++i) {
    out |= uint32_t(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) return i + 1;
  }
  return 0;
}

uint32_t connack_receive_maximum(const uint8_t* p, std::size_t n) {
  uint32_t len = 0;
  std::size_t k = read_varint(p, n, len);
  if (!k || k + len > n) return 0;
  std::size_t i = k, end = k + len;
  uint32_t result = 65535;
  while (i < end) {
    uint8_t id = p[i++];
    std::size_t need = 0;
    switch (id) {
      case 0x24: case 0x25: case 0x28: case 0x29: case 0x2A: need = 1; break;           // bytes
      case 0x21: case 0x22: case 0x13: need = 2; break;                                 // u16
      case 0x11: case 0x27: need = 4; break;                                             // u32
      case 0x12: case 0x1A: case 0x1C: case 0x1F: case 0x15: case 0x16:                 // string / binary
        if (i + 2 > end) return 0;
        need = 2 + std::size_t(get_u16(p + i));
        break;
      case 0x26:  // user property: two strings
        if (i + 2 > end) return 0;
        need = 2 + std::size_t(get_u16(p + i));
        if (i + need + 2 > end) return 0;
        need += 2 + std::size_t(get_u16(p + i + need));
        break;
      default: return 0;
    }
    if (i + need > end) return 0;
    if (id == 0x21) result = get_u16(p + i);
    i += need;
  }
  return result ? result : 0;
}

std::size_t put_varint(uint8_t* p, uint32_t v) {
  std::size_t i = 0;
  do {
    uint8_t b = v & 0x7f;
    v >>= 7;
    p[i++] = b | (v ? 0x80 : 0);
  } while (v);
  return i;
}

std::size_t varint_size(uint32_t v) {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

namespace {
struct Writer {
  uint8_t* p;
  void u8(uint8_t v) { *p++ = v; }
  void u16(uint16_t v) { *p++ = uint8_t(v >> 8); *p++ = uint8_t(v); }
  void u32(uint32_t v) { u16(uint16_t(v >> 16)); u16(uint16_t(v)); }
  void str(std::string_view s) { u16(uint16_t(s.size())); std::memcpy(p, s.data(), s.size()); p += s.size(); }
  void varint(uint32_t v) { p += put_varint(p, v); }
};

// Writes the fixed header and returns a writer for the body.
Writer start(Buf& out, uint8_t first, uint32_t remaining) {
  uint8_t* p = out.reserve(5 + remaining);
  out.commit(1 + varint_size(remaining) + remaining);
  Writer w{p};
  w.u8(first);
  w.varint(remaining);
  return w;
}
}  // namespace

void connect(Buf& out, const ConnectParams& c) {
  uint32_t props = 0;
  if (c.v5) props = 3 /*receive maximum*/ + (c.session_expiry ? 5 : 0);
  uint32_t rem = 6 + 1 + 1 + 2 + (c.v5 ? varint_size(props) + props : 0) + 2 + uint32_t(c.client_id.size());
  Writer w = start(out, kConnect << 4, rem);
  w.str("MQTT");
  w.u8(c.v5 ? 5 : 4);
  w.u8(c.clean ? 0x02 : 0x00);
  w.u16(c.keepalive);
  if (c.v5) {
    w.varint(props);
    w.u8(0x21);  // Receive Maximum: let the broker keep many QoS 1/2 deliveries in flight
    w.u16(65535);
    if (c.session_expiry) {
      w.u8(0x11);
      w.u32(c.session_expiry);
    }
  }
  w.str(c.client_id);
}

void subscribe(Buf& out, uint16_t pid, std::string_view filter, int qos, bool v5) {
  uint32_t rem = 2 + (v5 ? 1 : 0) + 2 + uint32_t(filter.size()) + 1;
  Writer w = start(out, (kSubscribe << 4) | 0x02, rem);
  w.u16(pid);
  if (v5) w.u8(0);
  w.str(filter);
  w.u8(uint8_t(qos));
}

void ack(Buf& out, Type type, uint16_t pid) {
  uint8_t* p = out.reserve(4);
  p[0] = uint8_t(type << 4) | (type == kPubrel ? 0x02 : 0);
  p[1] = 2;
  p[2] = uint8_t(pid >> 8);
  p[3] = uint8_t(pid);
  out.commit(4);
}

void pingreq(Buf& out) {
  const uint8_t b[2] = {kPingreq << 4, 0};
  out.append(b, 2);
}

void disconnect(Buf& out, bool v5, bool end_session) {
  if (v5 && end_session) {
    const uint8_t b[9] = {kDisconnect << 4, 7, 0x00, 5, 0x11, 0, 0, 0, 0};
    out.append(b, sizeof b);
    return;
  }
  const uint8_t b[2] = {kDisconnect << 4, 0};  // v5: reason 0 and no properties may be omitted
  out.append(b, 2);
}

PublishTemplate make_publish(std::string_view topic, int qos, bool v5, std::size_t payload_size,
                             uint32_t publisher_id) {
  PublishTemplate t;
  uint32_t var = 2 + uint32_t(topic.size()) + (qos ? 2 : 0) + (v5 ? 1 : 0);
  uint32_t rem = var + uint32_t(payload_size);
  t.bytes.resize(1 + varint_size(rem) + rem);
  Writer w{t.bytes.data()};
  w.u8(uint8_t(kPublish << 4 | qos << 1));
  w.varint(rem);
  w.str(topic);
  if (qos) {
    t.pid_off = std::size_t(w.p - t.bytes.data());
    w.u16(1);
  }
  if (v5) w.u8(0);
  t.payload_off = std::size_t(w.p - t.bytes.data());
  for (std::size_t i = 0; i < payload_size; ++i) w.p[i] = uint8_t('a' + i % 26);
  std::memcpy(w.p, &publisher_id, 4);
  return t;
}

}  // namespace mqb::wire
