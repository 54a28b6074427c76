#pragma once
// Byte-string helpers shared by validation and output: UTF-8 checking, JSON escaping and
// base64 for payloads that are not text.

#include <string>
#include <string_view>

namespace musqratt::cli {

/// True if `s` is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
bool is_valid_utf8(std::string_view s);

/// `s` as a JSON string literal, quotes included. `s` must be valid UTF-8.
std::string json_string(std::string_view s);

/// Standard base64 (RFC 4648, with padding).
std::string base64(std::string_view bytes);

}  // namespace musqratt::cli
