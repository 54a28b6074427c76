#include "auth/credentials.h"

#include <map>

namespace musqratt::auth {

std::expected<Credentials, std::string> Credentials::make(PasswordTable table, const std::string& origin) {
  Credentials c;
  std::map<HashParams, size_t> seen;
  for (const auto& [user, stored] : table) {
    auto params = hash_params(stored);
    if (!params)
      return std::unexpected(origin + ": user '" + user +
                             "': the password is not a hash MusQraTT knows ($pbkdf2-sha512$, or mosquitto_passwd's $7$ "
                             "or $6$); set it again with musqratt-cli passwd");
    ++seen[*params];
    if (params->scheme == HashScheme::MosquittoSha512) ++c.weak_;
  }
  // The most common parameters: what a wrong password for most users costs.
  size_t best = 0;
  for (const auto& [params, n] : seen) {
    if (n > best) {
      best = n;
      c.dummy_params_ = params;
    }
  }
  c.dummy_ = hash_password_like("no user has this password", c.dummy_params_);
  c.table_ = std::move(table);
  return c;
}

std::expected<Credentials, std::string> Credentials::load(const std::string& path) {
  auto table = read_password_file(path);
  if (!table) return std::unexpected(table.error());
  return make(std::move(*table), path);
}

bool Credentials::verify(const std::string& user, std::string_view password) const {
  auto it = table_.find(user);
  if (it == table_.end()) {
    verify_password(password, dummy_);  // the same work, and always a refusal
    return false;
  }
  return verify_password(password, it->second);
}

}  // namespace musqratt::auth
