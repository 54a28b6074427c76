#include "reason.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "protocol/reason_table.h"
#include "strformat.hpp"

namespace musqratt::cli {

std::string describe_reason(int code, int version, protocol::PacketType type) {
  namespace pr = protocol;
  const char* text = "unknown reason";
  if (code >= 0 && code <= 0xFF) {
    auto byte = static_cast<uint8_t>(code);
    pr::Version v = version == 5 ? pr::Version::V5 : pr::Version::V311;
    // A code the packet does not define still gets its 5.0 name, if it has one.
    auto reason = pr::reason_from_wire(byte, v, type);
    text = reason ? pr::reason_name(*reason, v, type) : pr::reason_name(static_cast<pr::Reason>(byte));
  }
  return strformat("{} (0x{:02x})", text, code);
}

std::string describe_mosq_error(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace musqratt::cli
