// The [[bridge]] parser: TOML text in, either a ConfigError (a message that names the table)
// or bridges whose every rule passes check_rule(), whose names are unique, and which print
// back (format_bridges) into text that parses into the same bridges. TLS file checks are
// left to the unit and integration tests: the fuzzer's inputs name no real files.
// Known upstream bug (docs/fuzzing.md): toml++ 3.3.0 reaches TOML_UNREACHABLE for most code
// points in U+00A1..U+FEFE; such inputs are skipped unless MUSQRATT_FUZZ_STRICT=1.
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>

#include "bridge/config_parser.h"
#include "bridge/topic_mapping.h"

using namespace musqratt;

namespace {
// Mirrors toml++ 3.3.0's is_non_ascii_horizontal_whitespace(): true where it hits TOML_UNREACHABLE.
bool toml_unreachable(char32_t c) {
  if (c <= 0xA0 || c >= 0xFEFF || c == 0x3000) return false;
  const uint64_t child = (c - 0xA0ull) / 0x3FAull;
  return !((1ull << child) & 0x7FFFFFFFFFFFF75Eull) && child != 5 && child != 7;
}

bool has_toml_unreachable_code_point(const uint8_t* d, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    char32_t c;
    if (d[i] >= 0xC2 && d[i] <= 0xDF && i + 1 < n) c = (d[i] & 0x1Fu) << 6 | (d[i + 1] & 0x3Fu);
    else if (d[i] >= 0xE0 && d[i] <= 0xEF && i + 2 < n) c = (d[i] & 0x0Fu) << 12 | (d[i + 1] & 0x3Fu) << 6 | (d[i + 2] & 0x3Fu);
    else continue;
    if (toml_unreachable(c)) return true;
  }
  return false;
}

const bool g_strict = [] { const char* e = getenv("MUSQRATT_FUZZ_STRICT"); return e && *e == '1'; }();
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!g_strict && has_toml_unreachable_code_point(data, size)) return -1;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  toml::table doc;
  try {
    doc = toml::parse(text, std::string_view("fuzz.toml"));
  } catch (const toml::parse_error&) {
    return 0;  // not TOML: settings.cpp reports it before the bridge parser sees anything
  }
  const toml::node* node = doc.get("bridge");
  if (!node) return 0;
  std::vector<bridge::BridgeConfig> bridges;
  try {
    bridges = bridge::parse_bridges(*node, "fuzz.toml", "fuzzhost");
  } catch (const bridge::ConfigError& e) {
    if (std::string_view(e.what()).find("[[bridge]]") == std::string_view::npos) abort();  // names the table
    return 0;
  }
  std::set<std::string> names;
  for (const auto& b : bridges) {
    if (b.name.empty() || b.addresses.empty() || b.topics.empty() || b.client_id.empty()) abort();
    if (!names.insert(b.name).second) abort();
    if (b.reconnect_min_ms > b.reconnect_max_ms || b.max_inflight == 0) abort();
    for (const auto& t : b.topics)
      if (!bridge::check_rule(t).empty()) abort();
    // A map made of them answers without failing, and maps its own filters' topics back.
    bridge::TopicMap map(b.topics);
    for (const auto& s : map.local_subscriptions()) (void)map.to_remote(s.filter);
    for (const auto& s : map.remote_subscriptions()) (void)map.to_local(s.filter);
  }
  // What --print-config writes reads back into the same bridges.
  std::string printed = bridge::format_bridges(bridges);
  if (bridges.empty()) {
    // `bridge = []`: no bridge, and nothing printed for it.
    if (!printed.empty()) abort();
    return 0;
  }
  toml::table again;
  try {
    again = toml::parse(std::string_view(printed), std::string_view("printed.toml"));
  } catch (const toml::parse_error&) {
    abort();
  }
  std::vector<bridge::BridgeConfig> reread;
  try {
    reread = bridge::parse_bridges(*again.get("bridge"), "printed.toml", "fuzzhost");
  } catch (const bridge::ConfigError&) {
    abort();
  }
  if (reread != bridges) abort();
  return 0;
}
