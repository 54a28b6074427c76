#include "web/http_auth.h"

#include <cstring>

#include "web/base64.h"

namespace musqratt::web {
namespace {

// Splits "Scheme SP+ rest" if the scheme is `scheme`; the rest without surrounding spaces.
std::optional<std::string_view> after_scheme(std::string_view header, std::string_view scheme) {
  if (header.size() <= scheme.size() || !iequals(header.substr(0, scheme.size()), scheme) ||
      header[scheme.size()] != ' ')
    return std::nullopt;
  std::string_view rest = header.substr(scheme.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  return rest;
}

bool is_token68_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         (c != 0 && std::strchr("-._~+/", c) != nullptr);
}

}  // namespace

std::optional<BasicCredentials> parse_basic_auth(std::string_view authorization) {
  auto b64 = after_scheme(authorization, "Basic");
  if (!b64) return std::nullopt;
  auto decoded = base64_decode(*b64);
  if (!decoded) return std::nullopt;
  // The user id cannot contain a colon; the password can (RFC 7617 2).
  const size_t colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return BasicCredentials{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

std::optional<std::string_view> parse_bearer_auth(std::string_view authorization) {
  auto token = after_scheme(authorization, "Bearer");
  if (!token) return std::nullopt;
  // token68: characters, then only trailing '=' (RFC 9110 11.2).
  std::string_view t = *token;
  size_t end = t.size();
  while (end > 0 && t[end - 1] == '=') --end;
  if (end == 0) return std::nullopt;
  for (size_t i = 0; i < end; ++i)
    if (!is_token68_char(t[i])) return std::nullopt;
  return t;
}

HttpCredentials request_credentials(const HttpRequest& req) {
  HttpCredentials c;
  auto h = req.header("Authorization");
  if (!h) return c;
  c.basic = parse_basic_auth(*h);
  if (!c.basic) c.bearer = parse_bearer_auth(*h);
  return c;
}

std::optional<HttpResponse> authorize(const HttpRequest& req, const AuthCheck& check, std::string_view realm) {
  const HttpCredentials creds = request_credentials(req);
  const AuthDecision d = creds.present() && check ? check(creds) : AuthDecision::Unauthenticated;
  if (d == AuthDecision::Allowed) return std::nullopt;
  if (d == AuthDecision::Forbidden) return HttpResponse::text(403);
  HttpResponse r = HttpResponse::text(401);
  r.with_header("WWW-Authenticate", "Basic realm=\"" + std::string(realm) + "\", charset=\"UTF-8\"");
  r.with_header("WWW-Authenticate", "Bearer realm=\"" + std::string(realm) + "\"");
  return r;
}

}  // namespace musqratt::web
