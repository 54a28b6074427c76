#pragma once
// Primitive MQTT encodings (section 1.5): big-endian integers, variable byte integers,
// length-prefixed strings and binary data. Reader never reads past its span and never allocates
// more than the bytes actually present.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace musqratt::protocol::wire {

/// Sequential reader over one packet body. Thread: none. A failed read sets !ok() and every
/// later read fails too, so decoders check once per field group instead of after every byte.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  bool u8(uint8_t& v);
  bool u16(uint16_t& v);
  bool u32(uint32_t& v);
  bool varint(uint32_t& v);
  /// A length-prefixed UTF-8 string, validated per section 1.5.4 of 5.0 (1.5.3 of 3.1.1).
  bool utf8(std::string& v);
  bool binary(std::string& v);
  bool bytes(size_t n, std::span<const uint8_t>& v);

  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return pos_ == data_.size(); }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }
  void skip_to_end() { pos_ = data_.size(); }
  bool ok() const { return ok_; }
  bool utf8_error() const { return utf8_error_; }

 private:
  bool fail() { ok_ = false; return false; }
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
  bool ok_ = true;
  bool utf8_error_ = false;
};

void put_u8(std::string& out, uint8_t v);
void put_u16(std::string& out, uint16_t v);
void put_u32(std::string& out, uint32_t v);
void put_varint(std::string& out, uint32_t v);
void put_string(std::string& out, std::string_view s);
size_t varint_size(uint32_t v);

}  // namespace musqratt::protocol::wire
