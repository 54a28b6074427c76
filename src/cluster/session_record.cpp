#include "cluster/session_record.h"

#include <cinttypes>
#include <cstdio>
#include <cstdlib>

#include "cluster/subject_map.h"

namespace musqratt::cluster {

namespace {
constexpr std::string_view kHeader = "musqratt-session 1";

uint8_t options_byte(const protocol::SubscribeOptions& o) {
  return static_cast<uint8_t>((o.qos & 3) | (o.no_local ? 4 : 0) | (o.retain_as_published ? 8 : 0) |
                              (o.retain_handling & 3) << 4);
}
protocol::SubscribeOptions options_of(unsigned b) {
  protocol::SubscribeOptions o;
  o.qos = b & 3;
  o.no_local = b & 4;
  o.retain_as_published = b & 8;
  o.retain_handling = (b >> 4) & 3;
  return o;
}

bool parse_u64(std::string_view s, uint64_t& v, int base = 10) {
  if (s.empty() || s.size() > 20) return false;
  std::string t(s);
  char* end = nullptr;
  v = strtoull(t.c_str(), &end, base);
  return *end == '\0' && t[0] != '-' && t[0] != '+';
}
}  // namespace

std::string record_key(std::string_view client_id) { return "s." + hex_key(client_id); }

std::string encode_record(const SessionRecord& r) {
  std::string out(kHeader);
  char buf[96];
  auto line = [&](const char* fmt, auto... args) {
    snprintf(buf, sizeof buf, fmt, args...);
    out += '\n';
    out += buf;
  };
  out += "\nnode " + r.node;
  line("instance %016" PRIx64, r.instance);
  line("expiry %" PRIu32, r.expiry);
  line("connected %d", r.connected ? 1 : 0);
  line("disconnected %" PRId64, r.disconnected_ms);
  line("floor %" PRId64, r.floor_ms);
  for (const auto& s : r.subscriptions) {
    line("sub %u %" PRIu32 " ", unsigned{options_byte(s.options)}, s.subscription_id);
    out += hex_key(s.filter);
  }
  return out;
}

std::optional<SessionRecord> decode_record(std::string_view text) {
  if (!text.starts_with(kHeader)) return std::nullopt;
  SessionRecord r;
  size_t pos = kHeader.size();
  while (pos < text.size()) {
    if (text[pos] != '\n') return std::nullopt;
    ++pos;
    size_t end = text.find('\n', pos);
    std::string_view line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    pos = end == std::string_view::npos ? text.size() : end;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, sp), value = line.substr(sp + 1);
    uint64_t v = 0;
    if (key == "node") {
      r.node = std::string(value);
    } else if (key == "instance") {
      if (!parse_u64(value, v, 16)) return std::nullopt;
      r.instance = v;
    } else if (key == "expiry") {
      if (!parse_u64(value, v) || v > 0xFFFFFFFFu) return std::nullopt;
      r.expiry = static_cast<uint32_t>(v);
    } else if (key == "connected") {
      if (value != "0" && value != "1") return std::nullopt;
      r.connected = value == "1";
    } else if (key == "disconnected" || key == "floor") {
      if (!parse_u64(value, v) || v > uint64_t{INT64_MAX}) return std::nullopt;
      (key == "floor" ? r.floor_ms : r.disconnected_ms) = static_cast<int64_t>(v);
    } else if (key == "sub") {
      size_t a = value.find(' ');
      size_t b = a == std::string_view::npos ? a : value.find(' ', a + 1);
      if (b == std::string_view::npos) return std::nullopt;
      uint64_t opts = 0, id = 0;
      if (!parse_u64(value.substr(0, a), opts) || opts > 0x3F || !parse_u64(value.substr(a + 1, b - a - 1), id) ||
          id > 0xFFFFFFF)
        return std::nullopt;
      auto filter = unhex_key(value.substr(b + 1));
      if (!filter || filter->empty()) return std::nullopt;
      r.subscriptions.push_back({std::move(*filter), options_of(static_cast<unsigned>(opts)), static_cast<uint32_t>(id)});
    }  // unknown keys: written by a newer version, skipped
  }
  if (r.node.empty()) return std::nullopt;
  return r;
}

}  // namespace musqratt::cluster
