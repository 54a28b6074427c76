#pragma once
// Base64 (RFC 4648 section 4, with padding), as HTTP Basic credentials and the WebSocket
// handshake keys use it.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace musqratt::web {

std::string base64_encode(std::span<const uint8_t> data);
inline std::string base64_encode(std::string_view data) {
  return base64_encode(std::span(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

/// Decodes canonical base64: length a multiple of 4, padding only at the end, no whitespace,
/// unused bits zero. Anything else is nullopt, so one value has one spelling.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace musqratt::web
