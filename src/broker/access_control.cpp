#include "broker/access_control.h"

#include "util/log.h"

namespace musqratt::broker {

std::string AccessControl::load(const AccessSettings& settings) {
  auto t = std::make_shared<Tables>();
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
  tables_.store(std::move(t), std::memory_order_release);
  return {};
}

std::string AccessControl::reload() { return load(tables()->settings); }

protocol::Reason AccessControl::authenticate(const std::optional<std::string>& username,
                                             const std::optional<std::string>& password,
                                             const std::string& client_id, auth::Identity& identity) const {
  auto t = tables();
  identity.client_id = client_id;
  identity.username = username.value_or("");
  identity.anonymous = !username.has_value();
  if (!username) {
    return t->settings.allow_anonymous ? protocol::Reason::Success : protocol::Reason::NotAuthorized;
  }
  if (!t->credentials) {
    // No password file: a user name is only a label, accepted as anonymous would be.
    return t->settings.allow_anonymous ? protocol::Reason::Success : protocol::Reason::NotAuthorized;
  }
  // An unknown user costs the same key derivation as a wrong password (Credentials::verify),
  // so the time of the answer does not tell which user names exist.
  if (!password || !t->credentials->verify(*username, *password)) return protocol::Reason::BadUserNameOrPassword;
  return protocol::Reason::Success;
}

bool AccessControl::acl_enabled() const { return tables()->acl.has_value(); }

bool AccessControl::can_publish(const auth::Identity& who, const std::string& topic) const {
  auto t = tables();
  return !t->acl || t->acl->can_publish(who, topic);
}
bool AccessControl::can_subscribe(const auth::Identity& who, const std::string& filter) const {
  auto t = tables();
  return !t->acl || t->acl->can_subscribe(who, filter);
}
bool AccessControl::can_receive(const auth::Identity& who, const std::string& topic) const {
  auto t = tables();
  return !t->acl || t->acl->can_receive(who, topic);
}

}  // namespace musqratt::broker
