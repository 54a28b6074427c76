#pragma once
#include <string_view>

namespace musqratt::protocol {
/// True if `s` is well-formed UTF-8 as MQTT requires: no overlong forms, no surrogates
/// (U+D800..U+DFFF), no code points above U+10FFFF ([MQTT-1.5.4-1, 5.0], [MQTT-1.5.3-1, 3.1.1])
/// and no U+0000 ([MQTT-1.5.4-2, 5.0], [MQTT-1.5.3-2, 3.1.1]).
bool valid_mqtt_utf8(std::string_view s);
}  // namespace musqratt::protocol
