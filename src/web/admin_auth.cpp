#include "web/admin_auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>

#include "auth/password_hash.h"

namespace musqratt::web {
namespace {
std::array<uint8_t, 32> sha256(std::string_view s) {
  std::array<uint8_t, 32> d{};
  SHA256(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d.data());
  return d;
}
}  // namespace

AdminAuth::AdminAuth(const broker::AccessControl& access, std::vector<std::string> admins,
                     std::optional<HttpTokens> tokens)
    : access_(access), admins_(std::move(admins)), tokens_(std::move(tokens)) {}

bool AdminAuth::password_ok(const std::string& user, const std::string& password) {
  std::optional<std::string> stored = access_.stored_password_hash(user);
  if (!stored) {
    // Unknown user: spend the same work as for a known one, so the time of the answer does not
    // say whether the user exists.
    static const std::string decoy = auth::hash_password("decoy");
    (void)auth::verify_password(password, decoy);
    return false;
  }
  const auto digest = sha256(password);
  {
    std::lock_guard lock(mu_);
    auto it = verified_.find(user);
    if (it != verified_.end() && it->second.stored_hash == *stored &&
        CRYPTO_memcmp(it->second.password_digest.data(), digest.data(), digest.size()) == 0)
      return true;
  }
  if (!auth::verify_password(password, *stored)) return false;
  std::lock_guard lock(mu_);
  verified_[user] = Verified{*stored, digest};
  return true;
}

AuthDecision AdminAuth::check(const HttpCredentials& c) {
  if (c.bearer) return tokens_ && tokens_->contains(*c.bearer) ? AuthDecision::Allowed : AuthDecision::Unauthenticated;
  if (!c.basic) return AuthDecision::Unauthenticated;
  if (!password_ok(c.basic->user, c.basic->password)) return AuthDecision::Unauthenticated;
  bool admin = std::find(admins_.begin(), admins_.end(), c.basic->user) != admins_.end();
  return admin ? AuthDecision::Allowed : AuthDecision::Forbidden;
}

}  // namespace musqratt::web
