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

/// How a client proved who it is, and a fingerprint of what it proved it with: what a reload
/// re-checks (Broker::reauthorize).
struct Credentials {
  enum class Kind : uint8_t { Anonymous, Password, Certificate };
  Kind kind = Kind::Anonymous;
  /// Password: a fingerprint of the user's stored hash when the client authenticated, so a
  /// changed password, like a removed user, withdraws the right to stay connected.
  uint64_t fingerprint = 0;
};

/// The identity a session keeps for checks after CONNECT (ACL at delivery, reauthorization).
struct ClientIdentity : auth::Identity {
  Credentials credentials;
};

struct AccessTables;  // one loaded version of the files (access_control.cpp)

/// Thread: every method may be called from any thread; the tables are immutable snapshots
/// swapped atomically.
class AccessControl {
 public:
  /// Reads the files; returns an error message, or empty on success (old tables stay on error).
  std::string load(const AccessSettings& settings);
  std::string reload();

  /// Success, BadUserNameOrPassword or NotAuthorized. Sets `identity` on success.
  /// `verified`: the outcome of check_password() made beforehand (off the event loop) for this
  /// user and password; without it, the password is checked here (slow: one key derivation).
  protocol::Reason authenticate(const std::optional<std::string>& username,
                                const std::optional<std::string>& password, const std::string& client_id,
                                auth::Identity& identity, std::optional<bool> verified = std::nullopt) const;
  /// Whether authenticating `username` takes a password check (a password file is loaded and
  /// a user name given): what is worth handing to a VerifyPool.
  bool needs_password_check(const std::optional<std::string>& username) const;
  /// The slow part of authenticate(): true if `password` is right for `username`. Any thread.
  bool check_password(const std::string& username, std::string_view password) const;
  bool can_publish(const auth::Identity& who, const std::string& topic) const;
  bool can_subscribe(const auth::Identity& who, const std::string& filter) const;
  bool can_receive(const auth::Identity& who, const std::string& topic) const;
  /// One relaxed load: for checks on the delivery path.
  bool acl_enabled() const { return acl_enabled_.load(std::memory_order_relaxed); }

  /// Changes with every successful load (never 0), so a session can tell whether the tables
  /// it checked its queue against are still the current ones. One relaxed load.
  uint16_t generation() const { return generation_.load(std::memory_order_relaxed); }

  /// What `who` (authenticated as described) is remembered by for later re-checks.
  Credentials credentials_of(const auth::Identity& who, bool by_certificate) const;
  /// Whether a client that authenticated with `c` may stay connected under the current tables:
  /// false once its user left the password file or its password changed.
  bool still_authorized(const auth::Identity& who, const Credentials& c) const;

  /// An immutable view of the current tables, for checking many messages against one version.
  class View {
   public:
    bool can_receive(const auth::Identity& who, const std::string& topic) const;
    bool acl_enabled() const;
    uint16_t generation() const;

   private:
    friend class AccessControl;
    std::shared_ptr<const AccessTables> tables_;
  };
  View view() const;

  /// The stored hash of `username` in the password file now loaded (nullopt: no such user, or
  /// no password file). For checks made outside MQTT (the HTTP API), which verify a password
  /// with auth::verify_password and may remember the result for as long as this is unchanged.
  std::optional<std::string> stored_password_hash(const std::string& username) const;

 private:
  std::shared_ptr<const AccessTables> tables() const { return tables_.load(std::memory_order_acquire); }
  std::atomic<std::shared_ptr<const AccessTables>> tables_;
  std::atomic<bool> acl_enabled_{false};
  std::atomic<uint16_t> generation_{0};
};

}  // namespace musqratt::broker
