#pragma once
// The password file: one "user:hash" line per user (hash from password_hash.h), '#' comments.
#include <expected>
#include <map>
#include <string>

namespace musqratt::auth {

using PasswordTable = std::map<std::string, std::string>;  // user -> stored hash

std::expected<PasswordTable, std::string> read_password_file(const std::string& path);
/// Writes atomically (temporary file + rename), mode 0600.
std::expected<void, std::string> write_password_file(const std::string& path, const PasswordTable& table);

}  // namespace musqratt::auth
