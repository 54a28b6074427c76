// Frames the input with read_frame_header and decodes every packet for MQTT 3.1.1 and 5.0
// (input byte 0 bit 0 adds 3.1). Every packet that decodes is re-encoded; the encoding must
// frame, decode to an equal value and re-encode to the same bytes, else we abort.
// Both findings it made (3.1.1 CONNACK/SUBACK codes, Topic Alias and Subscription Identifier
// lost by encode_packet) are fixed, so nothing is tolerated any more.
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

#include "protocol/codec.h"

using namespace musqratt::protocol;

namespace {

[[noreturn]] void mismatch(const char* what, const Packet& p, Version v, std::span<const uint8_t> body,
                           const std::string& enc) {
  fprintf(stderr, "fuzz_decoder: %s (%s, MQTT level %d)\n  body:", what, packet_type_name(packet_type(p)),
          static_cast<int>(v));
  for (uint8_t b : body) fprintf(stderr, " %02x", b);
  fprintf(stderr, "\n  re-encoding:");
  for (unsigned char b : enc) fprintf(stderr, " %02x", b);
  fprintf(stderr, "\n");
  abort();
}

void check(uint8_t first_byte, std::span<const uint8_t> body, Version v) {
  auto d = decode_packet(first_byte, body, v);
  if (!d) return;
  // CONNECT carries its own version; everything else is encoded as negotiated.
  Version ev = std::holds_alternative<Connect>(*d) ? std::get<Connect>(*d).version : v;
  std::string enc;
  if (encode_packet(*d, ev, enc) != enc.size()) mismatch("encode_packet size differs from bytes added", *d, v, body, enc);
  auto bytes = std::span(reinterpret_cast<const uint8_t*>(enc.data()), enc.size());
  FrameHeader h;
  if (read_frame_header(bytes, h) != FrameStatus::Complete || h.total_size() != enc.size())
    mismatch("re-encoding does not frame to its own size", *d, v, body, enc);
  auto d2 = decode_packet(h.first_byte, bytes.subspan(h.header_size), ev);
  if (!d2) mismatch(d2.error().detail, *d, v, body, enc);
  if (!(*d2 == *d)) mismatch("re-encoding decodes to a different value", *d, v, body, enc);
  std::string enc2;
  encode_packet(*d2, ev, enc2);
  if (enc2 != enc) mismatch("second re-encoding differs from the first", *d, v, body, enc);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool also_v31 = data[0] & 1;
  std::span<const uint8_t> in(data + 1, size - 1);
  size_t pos = 0;
  for (int packets = 0; pos < in.size() && packets < 64; ++packets) {
    FrameHeader h;
    if (read_frame_header(in.subspan(pos), h) != FrameStatus::Complete) break;
    if (h.header_size < 2 || h.header_size > 5) abort();  // 1 type byte + 1..4 length bytes
    if (in.size() - pos < h.total_size()) break;
    auto body = in.subspan(pos + h.header_size, h.remaining_length);
    check(h.first_byte, body, Version::V311);
    check(h.first_byte, body, Version::V5);
    if (also_v31) check(h.first_byte, body, Version::V31);
    pos += h.total_size();
  }
  return 0;
}
