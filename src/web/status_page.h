#pragma once
// The status page built into the binary: HTML, JavaScript (MQTT.js among it, from npm at build
// time) and CSS, served from memory. The page subscribes to $SYS over a WebSocket listener.
#include <span>
#include <string_view>

#include "web/http_request.h"
#include "web/http_response.h"

namespace musqratt::web {

struct StaticAsset {
  std::string_view path;  // "/", "/status/app.js", ...
  std::string_view content_type;
  std::string_view body;
};

/// The embedded files (generated at build time into status_page_assets.cpp); empty when the
/// build had no npm to fetch the page's dependencies with.
std::span<const StaticAsset> status_page_assets();
/// Why the page is missing, when it is ("" when it is there).
std::string_view status_page_missing_reason();

/// The asset at `path`, or null.
const StaticAsset* find_status_asset(std::string_view path);

/// Answers GET and HEAD for "/" and "/status/..." from the embedded files: 404 for an unknown
/// file, 405 for other methods, 503 saying why when the page was not built.
HttpResponse status_page_response(const HttpRequest& req);

}  // namespace musqratt::web
