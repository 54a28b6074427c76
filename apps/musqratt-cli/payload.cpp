#include "payload.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include "strformat.hpp"
#include <fstream>
#include <iterator>

namespace musqratt::cli {

std::expected<std::string, std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(strformat("cannot read '{}': {}", path, std::strerror(errno)));
  std::string data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  if (in.bad()) return std::unexpected(strformat("cannot read '{}'", path));
  return data;
}

std::expected<std::string, std::string> read_stdin() {
  std::string data;
  char buf[65536];
  while (true) {
    std::size_t n = std::fread(buf, 1, sizeof buf, stdin);
    data.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(stdin)) return std::unexpected("cannot read standard input");
  return data;
}

std::expected<std::string, std::string> resolve_payload(std::string_view arg, bool stdin_free) {
  if (arg == "-") {
    if (!stdin_free)
      return std::unexpected("payload '-' needs standard input, but commands are read from it");
    return read_stdin();
  }
  if (arg.starts_with('@') && arg.size() > 1) return read_file(std::string(arg.substr(1)));
  return std::string(arg);
}

}  // namespace musqratt::cli
