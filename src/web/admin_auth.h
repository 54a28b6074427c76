#pragma once
// Who may use the HTTP API: users of the password file listed in http_admins (HTTP Basic) and
// holders of a token from http_token_file (Bearer).
#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/access_control.h"
#include "web/http_auth.h"
#include "web/http_tokens.h"

namespace musqratt::web {

/// Thread: check() may be called from every worker at once. Ownership: refers to the broker's
/// AccessControl, which outlives it.
///
/// A password is verified with the password file's PBKDF2 hash, which is slow by design (tens
/// of milliseconds), on the worker that serves the request. So that a Prometheus scraping
/// every second with Basic credentials does not pay it each time, a verified password is
/// remembered as its SHA-256 digest next to the stored hash it matched; it is used again only
/// while the password file holds that same hash for the user (a reload that changes or removes
/// the user forgets it). Digests are compared in constant time.
class AdminAuth {
 public:
  AdminAuth(const broker::AccessControl& access, std::vector<std::string> admins, std::optional<HttpTokens> tokens);

  /// Allowed: a token from the file, or Basic with a password-file user in http_admins.
  /// Forbidden: a right password for a user not in http_admins. Unauthenticated otherwise,
  /// with no word of which part was wrong.
  AuthDecision check(const HttpCredentials& c);
  /// An AuthCheck calling check() on `self` (which must outlive it).
  AuthCheck as_check() { return [this](const HttpCredentials& c) { return check(c); }; }

 private:
  bool password_ok(const std::string& user, const std::string& password);

  const broker::AccessControl& access_;
  const std::vector<std::string> admins_;
  const std::optional<HttpTokens> tokens_;
  struct Verified {
    std::string stored_hash;
    std::array<uint8_t, 32> password_digest;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Verified> verified_;  // guarded by mu_; one entry per user
};

}  // namespace musqratt::web
