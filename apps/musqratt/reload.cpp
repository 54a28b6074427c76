#include "reload.h"

#include "check_config.h"
#include "util/log.h"

namespace musqratt::app {

std::string apply_log_settings(const Settings& s) {
  util::LogLevel level;
  util::LogOptions o;
  if (!util::parse_log_level(s.log_level, level)) return "unknown log level '" + s.log_level + "'";
  if (!util::parse_log_dest(s.log_dest, o.dest)) return "unknown log_dest '" + s.log_dest + "'";
  if (!util::parse_log_format(s.log_format, o.format)) return "unknown log_format '" + s.log_format + "'";
  o.file = s.log_file;
  o.rate_per_second = s.log_rate_limit;
  o.rate_burst = s.log_rate_burst;
  if (std::string err = util::configure_log(o); !err.empty()) return err;
  util::set_log_level(level);
  return {};
}

bool Reloader::refuse(const std::vector<std::string>& errors) {
  for (const auto& e : errors) LOG_ERROR("SIGHUP: %s", e.c_str());
  LOG_ERROR("SIGHUP: configuration refused (%zu error(s)); the running configuration stays", errors.size());
  notify_.ready("running; the last reload was refused (see the log)");
  return false;
}

bool Reloader::reload() {
  bool listener_errors = false;
  notify_.reloading();
  LOG_INFO("SIGHUP: reloading %s", running_.config_file.empty() ? "the command-line settings" : running_.config_file.c_str());
  Settings next;
  Origins origins;
  std::vector<std::string> errors = read_settings(static_cast<int>(argv_.size()), argv_.data(), next, origins);
  if (errors.empty()) errors = validate_settings(next, origins);
  if (!errors.empty()) return refuse(errors);
  const std::vector<std::string> restart = keep_restart_only_values(running_, next);
  (void)resolve_access_policy(next);  // again, with the listeners actually open
  // Everything that can fail is checked before anything is applied, so a refusal leaves the
  // running configuration whole.
  errors = check_named_files(next, origins);
  if (!errors.empty()) return refuse(errors);
  // The web listeners' settings are checked (and their factories made) before anything changes.
  auto web = make_web_listeners(next, broker_, nullptr, web_);
  if (!web) return refuse({web.error()});
  if (std::string err = broker_.replace_config(next.broker); !err.empty()) return refuse({err});
  if (std::string err = apply_log_settings(next); !err.empty()) LOG_ERROR("SIGHUP: logging unchanged: %s", err.c_str());
  if (std::string err = server_.reload_tls(); !err.empty())
    LOG_ERROR("SIGHUP: TLS reload failed, keeping the previous certificates: %s", err.c_str());
  for (const std::string& err : server_.update_listeners(next.listen, next.tls_listen, std::move(web->listeners))) {
    LOG_ERROR("SIGHUP: listener not opened: %s", err.c_str());
    listener_errors = true;
  }
  if (!restart.empty()) {
    std::string keys;
    for (const auto& k : restart) keys += (keys.empty() ? "" : ", ") + k;
    LOG_WARN("SIGHUP: changed but needing a restart (their running values stay): %s", keys.c_str());
  }
  running_ = std::move(next);
  LOG_INFO("SIGHUP: configuration reloaded (password file, ACL, TLS certificates, limits, hold filters, logging, "
           "listeners%s)", listener_errors ? ", some not opened: see above" : "");
  notify_.ready(restart.empty() ? "running; configuration reloaded" : "running; configuration reloaded, some keys need a restart");
  return true;
}

}  // namespace musqratt::app
