#pragma once
// Salted, slow password hashes. Ours is PBKDF2-HMAC-SHA512 from OpenSSL, stored as
// "$pbkdf2-sha512$ITERATIONS$SALT_BASE64$HASH_BASE64". Files written by Mosquitto's
// `mosquitto_passwd` are read as they are:
//   "$7$ITERATIONS$SALT_BASE64$HASH_BASE64"  PBKDF2-HMAC-SHA512 (Mosquitto 2.0's default, 101 rounds)
//   "$6$SALT_BASE64$HASH_BASE64"             one SHA-512 of password then salt (Mosquitto 1.6 and
//                                            older; fast to brute-force: re-hash with
//                                            `musqratt-cli passwd` when you can)
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace musqratt::auth {

/// Each CONNECT with a password pays one derivation; 20 000 rounds is about 10 ms here. Files
/// may carry more rounds per user: the count is stored with each hash.
inline constexpr uint32_t kDefaultIterations = 20'000;

enum class HashScheme : uint8_t { Pbkdf2Sha512, MosquittoPbkdf2Sha512, MosquittoSha512 };

/// What a stored hash costs to check: a dummy hash with the same parameters costs the same.
struct HashParams {
  HashScheme scheme = HashScheme::Pbkdf2Sha512;
  uint32_t iterations = kDefaultIterations;  // 1 for MosquittoSha512
  uint32_t salt_bytes = 16;
  uint32_t key_bytes = 64;
  auto operator<=>(const HashParams&) const = default;
};

/// A new hash in our format.
std::string hash_password(std::string_view password, uint32_t iterations = kDefaultIterations);
/// A new hash with the given parameters (any scheme; used for dummies of equal cost).
std::string hash_password_like(std::string_view password, const HashParams& params);
/// The parameters of a stored hash; nullopt when it is none of the formats above.
std::optional<HashParams> hash_params(std::string_view stored);
/// Constant-time comparison against a stored hash of any of the formats above; false for
/// malformed hashes.
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace musqratt::auth
