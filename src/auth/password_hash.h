#pragma once
// Salted, slow password hashes: PBKDF2-HMAC-SHA512 from OpenSSL. Stored as
// "$pbkdf2-sha512$ITERATIONS$SALT_BASE64$HASH_BASE64".
#include <cstdint>
#include <string>
#include <string_view>

namespace musqratt::auth {

/// Each CONNECT with a password pays one derivation on a worker thread; 20 000 rounds is about
/// 10 ms here. Files may carry more rounds per user: the count is stored with each hash.
inline constexpr uint32_t kDefaultIterations = 20'000;

std::string hash_password(std::string_view password, uint32_t iterations = kDefaultIterations);
/// Constant-time comparison against a stored hash; false for malformed hashes.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace musqratt::auth
