#pragma once
// The password table made ready for checks. A name that is not in the table is checked against
// a dummy hash with the parameters most of the table's hashes use, so that an unknown user costs
// the same time as a known user with a wrong password: the time of a refusal does not tell an
// attacker which user names exist.
#include <expected>
#include <string>
#include <string_view>

#include "auth/password_file.h"
#include "auth/password_hash.h"

namespace musqratt::auth {

/// Thread: immutable after construction; verify() may run on any number of threads at once.
class Credentials {
 public:
  /// Fails (naming the user, never the hash) if an entry is in no format of password_hash.h.
  static std::expected<Credentials, std::string> make(PasswordTable table, const std::string& origin);
  static std::expected<Credentials, std::string> load(const std::string& path);

  /// Slow: one key derivation (about 10 ms at our default cost) whether or not `user` exists.
  /// Never call it on an event loop; see VerifyPool.
  bool verify(const std::string& user, std::string_view password) const;
  bool has_user(const std::string& user) const { return table_.contains(user); }
  size_t size() const { return table_.size(); }
  /// Entries in Mosquitto's old "$6$" format (one SHA-512: fast to brute-force).
  size_t weak_hashes() const { return weak_; }
  /// The parameters unknown users are checked with.
  const HashParams& dummy_params() const { return dummy_params_; }

 private:
  Credentials() = default;
  PasswordTable table_;
  std::string dummy_;
  HashParams dummy_params_;
  size_t weak_ = 0;
};

}  // namespace musqratt::auth
