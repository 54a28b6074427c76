#include "auth/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

namespace musqratt::auth {
namespace {

std::string b64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(len);
  return out;
}

bool unb64(std::string_view in, std::vector<unsigned char>& out) {
  if (in.empty() || in.size() % 4 != 0) return false;
  out.assign(3 * in.size() / 4 + 1, 0);
  int len = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  if (len < 0) return false;
  size_t pad = (in.end()[-1] == '=') + (in.end()[-2] == '=');
  out.resize(len - pad);
  return true;
}

bool derive(std::string_view password, const unsigned char* salt, size_t salt_len, uint32_t iterations,
            unsigned char* out, size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, static_cast<int>(salt_len),
                           static_cast<int>(iterations), EVP_sha512(), static_cast<int>(out_len), out) == 1;
}

}  // namespace

std::string hash_password(std::string_view password, uint32_t iterations) {
  unsigned char salt[16];
  unsigned char key[64];
  RAND_bytes(salt, sizeof salt);
  derive(password, salt, sizeof salt, iterations, key, sizeof key);
  return "$pbkdf2-sha512$" + std::to_string(iterations) + "$" + b64(salt, sizeof salt) + "$" + b64(key, sizeof key);
}

bool verify_password(std::string_view password, std::string_view stored) {
  constexpr std::string_view kPrefix = "$pbkdf2-sha512$";
  if (stored.substr(0, kPrefix.size()) != kPrefix) return false;
  std::string_view rest = stored.substr(kPrefix.size());
  size_t d1 = rest.find('$');
  if (d1 == std::string_view::npos) return false;
  size_t d2 = rest.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return false;
  uint32_t iterations = 0;
  for (char c : rest.substr(0, d1)) {
    if (c < '0' || c > '9' || iterations > 100'000'000) return false;
    iterations = iterations * 10 + (c - '0');
  }
  if (iterations == 0) return false;
  std::vector<unsigned char> salt, expected;
  if (!unb64(rest.substr(d1 + 1, d2 - d1 - 1), salt) || !unb64(rest.substr(d2 + 1), expected)) return false;
  if (expected.empty() || expected.size() > 64) return false;
  unsigned char key[64];
  if (!derive(password, salt.data(), salt.size(), iterations, key, expected.size())) return false;
  return CRYPTO_memcmp(key, expected.data(), expected.size()) == 0;
}

}  // namespace musqratt::auth
