#include "util/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <ctime>

namespace musqratt::util {
namespace {
std::atomic<LogLevel> g_level{LogLevel::Info};
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::Trace: return "trace";
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warn: return "warn";
    case LogLevel::Error: return "error";
    case LogLevel::Off: return "off";
  }
  return "?";
}
}  // namespace

void set_log_level(LogLevel level) { g_level.store(level, std::memory_order_relaxed); }
LogLevel log_level() { return g_level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (int i = 0; i <= static_cast<int>(LogLevel::Off); ++i) {
    if (text == level_name(static_cast<LogLevel>(i))) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  if (text == "warning") {
    out = LogLevel::Warn;
    return true;
  }
  return false;
}

void log_write(LogLevel level, const char* fmt, ...) {
  char line[2048];
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tm_utc{};
  gmtime_r(&ts.tv_sec, &tm_utc);
  int n = static_cast<int>(strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm_utc));
  n += snprintf(line + n, sizeof line - n, ".%03ldZ %-5s ", ts.tv_nsec / 1000000, level_name(level));
  va_list ap;
  va_start(ap, fmt);
  int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
  va_end(ap);
  n = m < 0 ? n : std::min<int>(n + m, sizeof line - 2);
  line[n++] = '\n';
  ssize_t ignored = ::write(2, line, n);
  (void)ignored;
}

}  // namespace musqratt::util
