#pragma once
// Bearer tokens for the HTTP API (http_token_file): one per line. Tokens are kept only as
// SHA-256 digests and a presented token is compared with every digest in constant time
// (CRYPTO_memcmp over all of them, no early exit), so neither the time of an answer nor its
// content says how much of a token was right, or how long the stored tokens are.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace musqratt::web {

/// Thread: immutable after load; contains() may be called from any thread.
class HttpTokens {
 public:
  /// Reads `path`: one token per line; blank lines and lines starting with '#' are skipped,
  /// surrounding whitespace is trimmed. Throws std::runtime_error when the file cannot be read,
  /// a token has characters outside RFC 6750's token68, or it holds no token.
  static HttpTokens load(const std::string& path);
  /// From tokens already in memory (tests); the same rules.
  static HttpTokens from_lines(std::string_view text, const std::string& origin);

  bool contains(std::string_view token) const;
  size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  static Digest digest(std::string_view token);
  std::vector<Digest> digests_;
};

}  // namespace musqratt::web
