#pragma once
// MQTT topic name and topic filter validation (MQTT 3.1.1 §4.7, 5.0 §4.7), done before
// anything is sent so the user gets a precise message instead of a broker disconnect.

#include <optional>
#include <string>
#include <string_view>

namespace musqratt::cli {

/// Why `topic` is not a valid PUBLISH topic name, or nullopt if it is.
std::optional<std::string> topic_name_error(std::string_view topic);

/// Why `filter` is not a valid SUBSCRIBE/UNSUBSCRIBE topic filter, or nullopt if it is.
std::optional<std::string> topic_filter_error(std::string_view filter);

}  // namespace musqratt::cli
