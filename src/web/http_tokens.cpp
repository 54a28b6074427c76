#include "web/http_tokens.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace musqratt::web {
namespace {
bool token68(std::string_view t) {
  if (t.empty()) return false;
  size_t end = t.size();
  while (end > 0 && t[end - 1] == '=') --end;  // trailing '=' padding only
  if (end == 0) return false;
  for (size_t i = 0; i < end; ++i) {
    char c = t[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
              c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}
}  // namespace

HttpTokens::Digest HttpTokens::digest(std::string_view token) {
  Digest d{};
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), d.data());
  return d;
}

HttpTokens HttpTokens::from_lines(std::string_view text, const std::string& origin) {
  HttpTokens t;
  size_t line_no = 0;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    ++line_no;
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    if (!token68(line))
      throw std::runtime_error(origin + ":" + std::to_string(line_no) +
                               ": a token may hold only letters, digits and - . _ ~ + / (then = padding)");
    t.digests_.push_back(digest(line));
  }
  if (t.digests_.empty()) throw std::runtime_error(origin + ": no token in the file");
  return t;
}

HttpTokens HttpTokens::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read http_token_file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return from_lines(text.str(), path);
}

bool HttpTokens::contains(std::string_view token) const {
  const Digest d = digest(token);
  int found = 0;
  for (const Digest& stored : digests_) found |= CRYPTO_memcmp(stored.data(), d.data(), d.size()) == 0;
  return found != 0;
}

}  // namespace musqratt::web
