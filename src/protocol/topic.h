#pragma once
// Topic names and filters (section 4.7): validation, matching, and the $share prefix. Section
// 4.7 numbers its statements differently in 3.1.1 and 5.0, so each id says which it is.
#include <optional>
#include <string_view>

namespace musqratt::protocol {

/// A PUBLISH topic: non-empty, no wildcards ([MQTT-4.7.1-1, 3.1.1], [MQTT-4.7.0-1, 5.0]), valid
/// UTF-8 (checked by the codec).
bool valid_topic_name(std::string_view topic);
/// A SUBSCRIBE filter: non-empty, '#' only alone and last ([MQTT-4.7.1-2, 3.1.1],
/// [MQTT-4.7.1-1, 5.0]), '+' a whole level ([MQTT-4.7.1-3, 3.1.1], [MQTT-4.7.1-2, 5.0]).
bool valid_topic_filter(std::string_view filter);
/// Does `filter` match `topic`? Leading wildcards do not match topics starting with '$'
/// [MQTT-4.7.2-1, 3.1.1 and 5.0].
bool topic_matches(std::string_view filter, std::string_view topic);
bool has_wildcard(std::string_view filter);

/// `$share/{group}/{filter}` split into its parts (5.0 section 4.8.2).
struct SharedFilter {
  std::string_view group;
  std::string_view filter;
};
/// nullopt if `filter` is not a shared subscription; a SharedFilter with an empty group or
/// filter if it is one but malformed.
std::optional<SharedFilter> parse_shared_filter(std::string_view filter);

}  // namespace musqratt::protocol
