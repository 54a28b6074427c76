#include "web/utf8_validator.h"

namespace musqratt::web {

bool Utf8Validator::feed(std::span<const uint8_t> data) {
  for (uint8_t c : data) {
    if (need_ > 0) {
      if (c < lo_ || c > hi_) return false;
      lo_ = 0x80, hi_ = 0xBF;
      --need_;
      continue;
    }
    if (c < 0x80) continue;
    // The first continuation byte's range excludes overlong forms (E0, F0), surrogates (ED)
    // and code points above U+10FFFF (F4) (RFC 3629 4).
    if (c >= 0xC2 && c <= 0xDF) {
      need_ = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need_ = 2;
      if (c == 0xE0) lo_ = 0xA0;
      if (c == 0xED) hi_ = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need_ = 3;
      if (c == 0xF0) lo_ = 0x90;
      if (c == 0xF4) hi_ = 0x8F;
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace musqratt::web
