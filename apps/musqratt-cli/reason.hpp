#pragma once
// Human-readable MQTT reason codes for error lines such as
// `connection refused: not authorized (0x87)`.

#include <string>

namespace musqratt::cli {

/// "<text> (0xNN)" for an MQTT 5.0 reason code.
std::string describe_reason_v5(int code);

/// "<text> (0xNN)" for a CONNACK code of the given protocol version (4 = 3.1.1, 5 = 5.0).
std::string describe_connack(int code, int version);

/// Text for a libmosquitto MOSQ_ERR_* result, with errno detail where it applies.
std::string describe_mosq_error(int rc);

}  // namespace musqratt::cli
