#pragma once
// Who may connect (password file, anonymous policy) and what they may do (ACL). Loaded at
// start-up and replaced as a whole on reload (SIGHUP), so a reload never leaves a half-read
// table in use.
#include <atomic>
#include <memory>
#include <optional>
#include <string>

#include "auth/acl.h"
#include "auth/credentials.h"
#include "protocol/types.h"

namespace musqratt::broker {

struct AccessSettings {
  std::string password_file;  // empty = no passwords
  std::string acl_file;       // empty = everything allowed
  bool allow_anonymous = true;
};

/// Thread: every method may be called from any thread; the tables are immutable snapshots
/// swapped atomically.
class AccessControl {
 public:
  /// Reads the files; returns an error message, or empty on success (old tables stay on error).
  std::string load(const AccessSettings& settings);
  std::string reload();

  /// Success, BadUserNameOrPassword or NotAuthorized. Sets `identity` on success.
  protocol::Reason authenticate(const std::optional<std::string>& username,
                                const std::optional<std::string>& password, const std::string& client_id,
                                auth::Identity& identity) const;
  bool can_publish(const auth::Identity& who, const std::string& topic) const;
  bool can_subscribe(const auth::Identity& who, const std::string& filter) const;
  bool can_receive(const auth::Identity& who, const std::string& topic) const;
  bool acl_enabled() const;

 private:
  struct Tables {
    AccessSettings settings;
    std::optional<auth::Credentials> credentials;
    std::optional<auth::Acl> acl;
  };
  std::shared_ptr<const Tables> tables() const { return tables_.load(std::memory_order_acquire); }
  std::atomic<std::shared_ptr<const Tables>> tables_{std::make_shared<const Tables>()};
};

}  // namespace musqratt::broker
