#include "reason.hpp"

#include <mosquitto.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include "strformat.hpp"

namespace musqratt::cli {
namespace {

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string describe_reason_v5(int code) {
  return strformat("{} (0x{:02x})", lowercase(mosquitto_reason_string(code)), code);
}

std::string describe_connack(int code, int version) {
  if (version == 5) return describe_reason_v5(code);
  static constexpr const char* v3[] = {"accepted",
                                       "unacceptable protocol version",
                                       "identifier rejected",
                                       "server unavailable",
                                       "bad user name or password",
                                       "not authorized"};
  const char* text = code >= 0 && code <= 5 ? v3[code] : "unknown return code";
  return strformat("{} (0x{:02x})", text, code);
}

std::string describe_mosq_error(int rc) {
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  return mosquitto_strerror(rc);
}

}  // namespace musqratt::cli
