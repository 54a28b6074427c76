#include "topic.hpp"

#include "strformat.hpp"

#include "text.hpp"

namespace musqratt::cli {
namespace {

std::optional<std::string> common_error(std::string_view t, std::string_view kind) {
  if (t.empty()) return strformat("bad {} '': must not be empty", kind);
  if (t.size() > 65535) return strformat("bad {}: longer than 65535 bytes", kind);
  if (!is_valid_utf8(t)) return strformat("bad {}: not valid UTF-8", kind);
  if (t.find('\0') != std::string_view::npos)
    return strformat("bad {}: contains U+0000", kind);
  return std::nullopt;
}

}  // namespace

std::optional<std::string> topic_name_error(std::string_view topic) {
  if (auto e = common_error(topic, "topic")) return e;
  if (topic.find_first_of("+#") != std::string_view::npos)
    return strformat("bad topic '{}': wildcards '+' and '#' are not allowed when publishing",
                       topic);
  return std::nullopt;
}

std::optional<std::string> topic_filter_error(std::string_view filter) {
  if (auto e = common_error(filter, "topic filter")) return e;
  std::size_t level_start = 0;
  while (true) {
    std::size_t end = filter.find('/', level_start);
    std::string_view level = filter.substr(
        level_start, end == std::string_view::npos ? std::string_view::npos : end - level_start);
    if (level.find('#') != std::string_view::npos) {
      if (level != "#" || end != std::string_view::npos)
        return strformat("bad topic filter '{}': '#' must be a whole level and the last one",
                           filter);
    }
    if (level.find('+') != std::string_view::npos && level != "+")
      return strformat("bad topic filter '{}': '+' must be a whole level", filter);
    if (end == std::string_view::npos) break;
    level_start = end + 1;
  }
  return std::nullopt;
}

}  // namespace musqratt::cli
