#include "check_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "auth/acl.h"
#include "auth/credentials.h"
#include "net/address.h"
#include "net/tls.h"

namespace musqratt::app {

std::vector<std::string> check_named_files(const Settings& s, const Origins& origins) {
  std::vector<std::string> errors;
  auto bad = [&](const std::string& key, const std::string& message) {
    errors.push_back(origin_of(origins, key) + ": " + message);
  };
  if (s.transport != "dpdk") {
    for (const auto& l : s.listen)
      if (auto ep = net::parse_endpoint(l); !ep) bad("listen", ep.error());
    for (const auto& l : s.tls_listen)
      if (auto ep = net::parse_endpoint(l); !ep) bad("tls_listen", ep.error());
  }
  if (!s.broker.password_file.empty())
    if (auto c = auth::Credentials::load(s.broker.password_file); !c) bad("password_file", c.error());
  if (!s.broker.acl_file.empty())
    if (auto a = auth::Acl::load(s.broker.acl_file); !a) bad("acl_file", a.error());
  if (!s.tls_listen.empty() && !s.tls_cert.empty() && !s.tls_key.empty()) {
    auto ctx = net::TlsServerContext::create(net::TlsSettings{s.tls_cert, s.tls_key, s.tls_ca, s.tls_require_certificate,
                                                              s.tls_use_identity_as_username});
    if (!ctx) bad("tls_cert", ctx.error());
  }
  if (s.log_dest == "file" && !s.log_file.empty()) {
    // Appending to the file, or creating it, as the user running the check.
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(s.log_file, ec)) {
      int fd = ::open(s.log_file.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
      if (fd < 0) bad("log_file", s.log_file + ": " + strerror(errno));
      else ::close(fd);
    } else {
      fs::path dir = fs::path(s.log_file).parent_path();
      if (dir.empty()) dir = ".";
      if (::access(dir.c_str(), W_OK) != 0) bad("log_file", dir.string() + ": " + strerror(errno));
    }
  }
  return errors;
}

int check_config(int argc, char** argv) {
  Settings s;
  Origins origins;
  std::vector<std::string> errors = read_settings(argc, argv, s, origins);
  for (auto& e : validate_settings(s, origins)) errors.push_back(std::move(e));
  for (auto& e : check_named_files(s, origins)) errors.push_back(std::move(e));
  const std::string what = s.config_file.empty() ? "settings" : s.config_file;
  if (errors.empty()) {
    printf("%s: configuration OK\n", what.c_str());
    return 0;
  }
  for (const auto& e : errors) fprintf(stderr, "musqratt: %s\n", e.c_str());
  fprintf(stderr, "musqratt: %s: %zu error(s)\n", what.c_str(), errors.size());
  return 1;
}

}  // namespace musqratt::app
