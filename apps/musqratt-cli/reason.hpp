#pragma once
// Human-readable MQTT reason codes for error lines such as
// `connection refused: not authorized (0x87)`. The names come from the broker's own reason
// table (protocol/reason_table.h), so the client and the broker name codes alike.

#include <string>

#include "protocol/types.h"

namespace musqratt::cli {

/// "<text> (0xNN)" for reason or return code `code` in a `type` packet of MQTT `version`
/// (4 = 3.1.1, 5 = 5.0): "identifier rejected (0x02)" for a 3.1.1 CONNACK, "failure (0x80)"
/// for a 3.1.1 SUBACK, "not authorized (0x87)" for 5.0.
std::string describe_reason(int code, int version, protocol::PacketType type);

/// Text for a libmosquitto MOSQ_ERR_* result, with errno detail where it applies.
std::string describe_mosq_error(int rc);

}  // namespace musqratt::cli
