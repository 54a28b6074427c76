#include "auth/password_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace musqratt::auth {

std::expected<PasswordTable, std::string> read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(path + ": " + strerror(errno));
  PasswordTable table;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0)
      return std::unexpected(path + ":" + std::to_string(n) + ": expected USER:HASH");
    table[line.substr(0, colon)] = line.substr(colon + 1);
  }
  return table;
}

std::expected<void, std::string> write_password_file(const std::string& path, const PasswordTable& table) {
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (!f) return std::unexpected(tmp + ": " + strerror(errno));
  chmod(tmp.c_str(), 0600);
  for (const auto& [user, hash] : table) fprintf(f, "%s:%s\n", user.c_str(), hash.c_str());
  bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) return std::unexpected(path + ": " + strerror(errno));
  return {};
}

}  // namespace musqratt::auth
