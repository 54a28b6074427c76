#include "broker/access_control.h"

#include <functional>

#include "util/log.h"

namespace musqratt::broker {

struct AccessTables {
  AccessSettings settings;
  std::optional<auth::Credentials> credentials;
  std::optional<auth::Acl> acl;
  uint16_t generation = 0;
};

namespace {
uint64_t fingerprint_of(std::string_view stored_hash) {
  uint64_t f = std::hash<std::string_view>{}(stored_hash);
  return f ? f : 1;  // 0 means "no password"
}
}  // namespace

std::string AccessControl::load(const AccessSettings& settings) {
  auto t = std::make_shared<AccessTables>();
  t->settings = settings;
  if (!settings.password_file.empty()) {
    auto c = auth::Credentials::load(settings.password_file);
    if (!c) return c.error();
    if (c->weak_hashes())
      LOG_WARN("%s: %zu user(s) with Mosquitto's old $6$ hash (one SHA-512, fast to guess): set their passwords "
               "again with musqratt-cli passwd", settings.password_file.c_str(), c->weak_hashes());
    t->credentials = std::move(*c);
  }
  if (!settings.acl_file.empty()) {
    auto a = auth::Acl::load(settings.acl_file);
    if (!a) return a.error();
    t->acl = std::move(*a);
  }
  // Loads come from one thread at a time (start-up, then the signal handler's thread).
  uint16_t gen = static_cast<uint16_t>(generation_.load(std::memory_order_relaxed) + 1);
  if (gen == 0) gen = 1;
  t->generation = gen;
  bool acl = t->acl.has_value();
  tables_.store(std::move(t), std::memory_order_release);
  acl_enabled_.store(acl, std::memory_order_relaxed);
  generation_.store(gen, std::memory_order_release);
  return {};
}

std::string AccessControl::reload() {
  auto t = tables();
  return load(t ? t->settings : AccessSettings{});
}

protocol::Reason AccessControl::authenticate(const std::optional<std::string>& username,
                                             const std::optional<std::string>& password,
                                             const std::string& client_id, auth::Identity& identity,
                                             std::optional<bool> verified) const {
  auto t = tables();
  identity.client_id = client_id;
  identity.username = username.value_or("");
  identity.anonymous = !username.has_value();
  bool allow_anonymous = !t || t->settings.allow_anonymous;
  if (!username) {
    return allow_anonymous ? protocol::Reason::Success : protocol::Reason::NotAuthorized;
  }
  if (!t || !t->credentials) {
    // No password file: a user name is only a label, accepted as anonymous would be.
    return allow_anonymous ? protocol::Reason::Success : protocol::Reason::NotAuthorized;
  }
  // An unknown user costs the same key derivation as a wrong password (Credentials::verify),
  // so the time of the answer does not tell which user names exist.
  bool ok = verified ? *verified : (password && t->credentials->verify(*username, *password));
  return ok ? protocol::Reason::Success : protocol::Reason::BadUserNameOrPassword;
}

bool AccessControl::needs_password_check(const std::optional<std::string>& username) const {
  auto t = tables();
  return username && t && t->credentials;
}

bool AccessControl::check_password(const std::string& username, std::string_view password) const {
  auto t = tables();
  return t && t->credentials && t->credentials->verify(username, password);
}

std::optional<std::string> AccessControl::stored_password_hash(const std::string& username) const {
  auto t = tables();
  if (!t || !t->credentials) return std::nullopt;
  std::optional<std::string_view> h = t->credentials->stored_hash(username);
  if (!h) return std::nullopt;
  return std::string(*h);
}

bool AccessControl::can_publish(const auth::Identity& who, const std::string& topic) const {
  auto t = tables();
  return !t || !t->acl || t->acl->can_publish(who, topic);
}
bool AccessControl::can_subscribe(const auth::Identity& who, const std::string& filter) const {
  auto t = tables();
  return !t || !t->acl || t->acl->can_subscribe(who, filter);
}
bool AccessControl::can_receive(const auth::Identity& who, const std::string& topic) const {
  auto t = tables();
  return !t || !t->acl || t->acl->can_receive(who, topic);
}

Credentials AccessControl::credentials_of(const auth::Identity& who, bool by_certificate) const {
  if (by_certificate) return {Credentials::Kind::Certificate, 0};
  auto t = tables();
  if (who.anonymous || !t || !t->credentials) return {};
  auto hash = t->credentials->stored_hash(who.username);
  if (!hash) return {};
  return {Credentials::Kind::Password, fingerprint_of(*hash)};
}

bool AccessControl::still_authorized(const auth::Identity& who, const Credentials& c) const {
  if (c.kind != Credentials::Kind::Password) return true;  // nothing a reload can withdraw
  auto t = tables();
  if (!t || !t->credentials) return true;
  auto hash = t->credentials->stored_hash(who.username);
  return hash && fingerprint_of(*hash) == c.fingerprint;
}

AccessControl::View AccessControl::view() const {
  View v;
  v.tables_ = tables();
  return v;
}

bool AccessControl::View::can_receive(const auth::Identity& who, const std::string& topic) const {
  return !tables_ || !tables_->acl || tables_->acl->can_receive(who, topic);
}
bool AccessControl::View::acl_enabled() const { return tables_ && tables_->acl.has_value(); }
uint16_t AccessControl::View::generation() const { return tables_ ? tables_->generation : 0; }

}  // namespace musqratt::broker
