#include "auth/password_hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <vector>

namespace musqratt::auth {
namespace {

constexpr std::string_view kOurs = "$pbkdf2-sha512$";
constexpr std::string_view kMosquittoPbkdf2 = "$7$";
constexpr std::string_view kMosquittoSha512 = "$6$";
constexpr uint32_t kMaxIterations = 100'000'000;

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

bool pbkdf2(std::string_view password, const unsigned char* salt, size_t salt_len, uint32_t iterations,
            unsigned char* out, size_t out_len) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt, static_cast<int>(salt_len),
                           static_cast<int>(iterations), EVP_sha512(), static_cast<int>(out_len), out) == 1;
}

/// Mosquitto's "$6$": SHA-512 over the password followed by the salt.
bool sha512_salted(std::string_view password, const unsigned char* salt, size_t salt_len, unsigned char* out) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (!ctx) return false;
  unsigned int len = 0;
  bool ok = EVP_DigestInit_ex(ctx, EVP_sha512(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, password.data(), password.size()) == 1 &&
            EVP_DigestUpdate(ctx, salt, salt_len) == 1 && EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 64;
  EVP_MD_CTX_free(ctx);
  return ok;
}

bool parse_uint(std::string_view text, uint32_t& out) {
  if (text.empty()) return false;
  out = 0;
  for (char c : text) {
    if (c < '0' || c > '9' || out > kMaxIterations) return false;
    out = out * 10 + (c - '0');
  }
  return out > 0 && out <= kMaxIterations;
}

/// A stored hash taken apart.
struct Parsed {
  HashParams params;
  std::vector<unsigned char> salt;
  std::vector<unsigned char> key;
};

std::optional<Parsed> parse(std::string_view stored) {
  Parsed p;
  std::string_view rest;
  if (stored.starts_with(kOurs)) {
    p.params.scheme = HashScheme::Pbkdf2Sha512;
    rest = stored.substr(kOurs.size());
  } else if (stored.starts_with(kMosquittoPbkdf2)) {
    p.params.scheme = HashScheme::MosquittoPbkdf2Sha512;
    rest = stored.substr(kMosquittoPbkdf2.size());
  } else if (stored.starts_with(kMosquittoSha512)) {
    p.params.scheme = HashScheme::MosquittoSha512;
    p.params.iterations = 1;
    rest = stored.substr(kMosquittoSha512.size());
  } else {
    return std::nullopt;
  }
  if (p.params.scheme != HashScheme::MosquittoSha512) {
    size_t d = rest.find('$');
    if (d == std::string_view::npos || !parse_uint(rest.substr(0, d), p.params.iterations)) return std::nullopt;
    rest = rest.substr(d + 1);
  }
  size_t d = rest.find('$');
  if (d == std::string_view::npos) return std::nullopt;
  if (!unb64(rest.substr(0, d), p.salt) || !unb64(rest.substr(d + 1), p.key)) return std::nullopt;
  if (p.salt.empty() || p.key.empty() || p.key.size() > 64) return std::nullopt;
  if (p.params.scheme == HashScheme::MosquittoSha512 && p.key.size() != 64) return std::nullopt;
  p.params.salt_bytes = static_cast<uint32_t>(p.salt.size());
  p.params.key_bytes = static_cast<uint32_t>(p.key.size());
  return p;
}

bool derive(std::string_view password, const HashParams& params, const std::vector<unsigned char>& salt,
            unsigned char* key) {
  if (params.scheme == HashScheme::MosquittoSha512) return sha512_salted(password, salt.data(), salt.size(), key);
  return pbkdf2(password, salt.data(), salt.size(), params.iterations, key, params.key_bytes);
}

}  // namespace

std::string hash_password(std::string_view password, uint32_t iterations) {
  return hash_password_like(password, HashParams{HashScheme::Pbkdf2Sha512, iterations, 16, 64});
}

std::string hash_password_like(std::string_view password, const HashParams& params) {
  std::vector<unsigned char> salt(params.salt_bytes ? params.salt_bytes : 16);
  RAND_bytes(salt.data(), static_cast<int>(salt.size()));
  HashParams p = params;
  if (p.scheme == HashScheme::MosquittoSha512) p.key_bytes = 64;
  if (p.key_bytes == 0 || p.key_bytes > 64) p.key_bytes = 64;
  unsigned char key[64];
  derive(password, p, salt, key);
  std::string k = b64(key, p.key_bytes), s = b64(salt.data(), salt.size());
  switch (p.scheme) {
    case HashScheme::MosquittoSha512: return std::string(kMosquittoSha512) + s + "$" + k;
    case HashScheme::MosquittoPbkdf2Sha512:
      return std::string(kMosquittoPbkdf2) + std::to_string(p.iterations) + "$" + s + "$" + k;
    case HashScheme::Pbkdf2Sha512: break;
  }
  return std::string(kOurs) + std::to_string(p.iterations) + "$" + s + "$" + k;
}

std::optional<HashParams> hash_params(std::string_view stored) {
  auto p = parse(stored);
  if (!p) return std::nullopt;
  return p->params;
}

bool verify_password(std::string_view password, std::string_view stored) {
  auto p = parse(stored);
  if (!p) return false;
  unsigned char key[64];
  if (!derive(password, p->params, p->salt, key)) return false;
  bool same = CRYPTO_memcmp(key, p->key.data(), p->key.size()) == 0;
  OPENSSL_cleanse(key, sizeof key);
  return same;
}

}  // namespace musqratt::auth
