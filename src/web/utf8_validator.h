#pragma once
// Incremental UTF-8 validation (RFC 3629) for text that arrives in pieces, as WebSocket text
// messages do across frames and reads (RFC 6455 8.1: invalid text fails the connection, 1007).
#include <cstdint>
#include <span>

namespace musqratt::web {

/// Thread: one owner. Holds three bytes of state, so a decoder stays allocation-free.
class Utf8Validator {
 public:
  /// Feeds the next bytes; false once the text so far cannot be the prefix of valid UTF-8
  /// (overlong forms, surrogates, code points above U+10FFFF, stray continuation bytes).
  bool feed(std::span<const uint8_t> data);
  /// True if the text fed so far ends at a character boundary.
  bool complete() const { return need_ == 0; }
  void reset() { need_ = 0, lo_ = 0x80, hi_ = 0xBF; }

 private:
  uint8_t need_ = 0;  // continuation bytes still expected
  uint8_t lo_ = 0x80, hi_ = 0xBF;  // range of the next continuation byte
};

}  // namespace musqratt::web
