#pragma once
// HTTP authentication (RFC 9110 11): reading Basic (RFC 7617) and Bearer (RFC 6750)
// credentials from an Authorization header, and the 401/403 answers. Whether credentials are
// good is the caller's decision (a callback), so this room knows no password file.
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "web/http_request.h"
#include "web/http_response.h"

namespace musqratt::web {

struct BasicCredentials {
  std::string user;
  std::string password;
};

/// The user and password of "Basic <base64(user:password)>"; nullopt when the header is another
/// scheme or malformed (bad base64, no colon). The scheme name is case-insensitive.
std::optional<BasicCredentials> parse_basic_auth(std::string_view authorization);
/// The token of "Bearer <token>" (token68 characters only); nullopt otherwise.
std::optional<std::string_view> parse_bearer_auth(std::string_view authorization);

/// What a request carried: at most one of the two.
struct HttpCredentials {
  std::optional<BasicCredentials> basic;
  std::optional<std::string_view> bearer;
  bool present() const { return basic.has_value() || bearer.has_value(); }
};
HttpCredentials request_credentials(const HttpRequest& req);

enum class AuthDecision : uint8_t {
  Allowed,
  Unauthenticated,  // no or bad credentials: 401 with a challenge
  Forbidden,        // known, but not allowed here: 403
};
using AuthCheck = std::function<AuthDecision(const HttpCredentials&)>;

/// Null when `check` allows the request; otherwise the response to send: 401 with
/// "WWW-Authenticate: Basic realm=..., charset=UTF-8" (and Bearer) or 403. Neither says whether
/// the path exists or which part of the credentials was wrong.
std::optional<HttpResponse> authorize(const HttpRequest& req, const AuthCheck& check,
                                      std::string_view realm = "musqratt");

}  // namespace musqratt::web
