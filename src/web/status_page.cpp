#include "web/status_page.h"

namespace musqratt::web {

const StaticAsset* find_status_asset(std::string_view path) {
  for (const StaticAsset& a : status_page_assets())
    if (a.path == path) return &a;
  return nullptr;
}

HttpResponse status_page_response(const HttpRequest& req) {
  if (req.method != "GET" && req.method != "HEAD") {
    HttpResponse r = HttpResponse::text(405);
    r.with_header("Allow", "GET, HEAD");
    return r;
  }
  if (status_page_assets().empty())
    return HttpResponse::text(503, "The status page is not part of this build: " +
                                       std::string(status_page_missing_reason()) + "\n");
  const StaticAsset* a = find_status_asset(req.path == "/index.html" ? "/" : req.path);
  if (!a) return HttpResponse::text(404);
  HttpResponse r;
  r.content_type = a->content_type;
  r.body = a->body;
  r.with_header("X-Content-Type-Options", "nosniff");
  r.with_header("Cache-Control", "no-cache");
  // The page loads only its own files and talks to the broker over WebSocket, nothing else.
  // MQTT.js runs its keep-alive timer in a worker made from a blob (timers in background tabs
  // are throttled, workers' are not), hence worker-src blob:.
  if (a->path == "/")
    r.with_header("Content-Security-Policy",
                  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; "
                  "style-src 'self'; script-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'");
  return r;
}

}  // namespace musqratt::web
