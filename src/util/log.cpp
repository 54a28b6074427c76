#include "util/log.h"

#include <fcntl.h>
#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <vector>

#include "util/log_rate_limiter.h"

namespace musqratt::util {
namespace {

/// Where lines go. Immutable once published; a file sink owns its descriptor, which
/// reopen_log_file() replaces in place with dup2 so the number stays valid.
struct Sink {
  LogDest dest = LogDest::Stderr;
  LogFormat format = LogFormat::Text;
  std::string path;
  int fd = 2;
  bool owns_fd = false;  // a file this sink opened (never standard error)
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() {
    if (owns_fd) ::close(fd);
  }
};

/// The process's logger. Thread: any. Ownership: never destroyed (threads may log while the
/// process exits).
struct Logger {
  std::atomic<LogLevel> level{LogLevel::Info};
  std::atomic<std::shared_ptr<const Sink>> sink{std::make_shared<const Sink>()};
  LogRateLimiter limiter;
  std::mutex config_mu;  // serialises configure_log and reopen_log_file
  std::once_flag syslog_opened;
};

Logger& logger() {
  static Logger* l = new Logger;
  return *l;
}

const char* level_names[] = {"trace", "debug", "info", "warn", "error", "off"};

int syslog_priority(LogLevel l) {
  switch (l) {
    case LogLevel::Trace:
    case LogLevel::Debug: return LOG_DEBUG;
    case LogLevel::Info: return LOG_INFO;
    case LogLevel::Warn: return LOG_WARNING;
    default: return LOG_ERR;
  }
}

/// "2024-05-01T12:00:00.123Z"
size_t format_time(char* out, size_t size) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm tm_utc{};
  gmtime_r(&ts.tv_sec, &tm_utc);
  size_t n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm_utc);
  int m = snprintf(out + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
  return n + (m > 0 ? static_cast<size_t>(m) : 0);
}

void write_all(int fd, const char* data, size_t n) {
  // One write(2) per line: O_APPEND files and pipes keep lines whole. A short write (disk
  // full, a closed pipe) loses the rest of the line rather than blocking a worker.
  ssize_t ignored = ::write(fd, data, n);
  (void)ignored;
}

void emit(LogLevel level, std::initializer_list<LogField> fields, const char* message) {
  std::shared_ptr<const Sink> sink = logger().sink.load(std::memory_order_acquire);
  const char* lname = log_level_name(level);
  if (sink->format == LogFormat::Json) {
    char when[40];
    format_time(when, sizeof when);
    nlohmann::ordered_json j;
    j["time"] = when;
    j["level"] = lname;
    j["message"] = message;
    for (const LogField& f : fields) j[std::string(f.key)] = f.value;
    // A peer's bytes can reach a message (a client id, a topic): never let invalid UTF-8 make
    // the line unparseable or throw.
    std::string line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (sink->dest == LogDest::Syslog) {
      syslog(syslog_priority(level), "%s", line.c_str());
    } else {
      line.push_back('\n');
      write_all(sink->fd, line.data(), line.size());
    }
    return;
  }
  if (sink->dest == LogDest::Syslog) {
    syslog(syslog_priority(level), "%s", message);  // syslog adds the time and the process
    return;
  }
  char line[2304];
  size_t n = format_time(line, sizeof line);
  int m = snprintf(line + n, sizeof line - n - 1, " %-5s %s", lname, message);
  n = m < 0 ? n : std::min(n + static_cast<size_t>(m), sizeof line - 2);
  line[n++] = '\n';
  write_all(sink->fd, line, n);
}

void vemit(LogLevel level, std::initializer_list<LogField> fields, const char* fmt, va_list ap) {
  char message[2048];
  int m = vsnprintf(message, sizeof message, fmt, ap);
  if (m < 0) message[0] = '\0';
  emit(level, fields, message);
}

void emit_summary(LogLevel level, const std::string& kind, uint64_t suppressed, Millis over) {
  char message[256];
  snprintf(message, sizeof message, "suppressed %llu similar messages (%s) in the last %.1f s",
           static_cast<unsigned long long>(suppressed), kind.c_str(), over.count() / 1000.0);
  std::string count = std::to_string(suppressed);
  emit(level, {{"kind", kind}, {"suppressed", count}}, message);
}

void vlimited(uint16_t key, LogLevel level, TimePoint now, const char* fmt, va_list ap) {
  Logger& l = logger();
  LogRateLimiter::Admission a = l.limiter.admit(key, static_cast<int>(level), now);
  if (!a.write) return;
  std::string kind = l.limiter.name(key);
  if (a.suppressed_before) emit_summary(level, kind, a.suppressed_before, a.suppressed_over);
  char message[2048];
  int m = vsnprintf(message, sizeof message, fmt, ap);
  if (m < 0) message[0] = '\0';
  emit(level, {{"kind", kind}}, message);
}

}  // namespace

const char* log_level_name(LogLevel l) {
  int i = static_cast<int>(l);
  return i >= 0 && i <= static_cast<int>(LogLevel::Off) ? level_names[i] : "?";
}

void set_log_level(LogLevel level) { logger().level.store(level, std::memory_order_relaxed); }
LogLevel log_level() { return logger().level.load(std::memory_order_relaxed); }

bool parse_log_level(std::string_view text, LogLevel& out) {
  for (int i = 0; i <= static_cast<int>(LogLevel::Off); ++i) {
    if (text == level_names[i]) {
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

bool parse_log_dest(std::string_view text, LogDest& out) {
  if (text == "stderr") out = LogDest::Stderr;
  else if (text == "syslog") out = LogDest::Syslog;
  else if (text == "file") out = LogDest::File;
  else return false;
  return true;
}

bool parse_log_format(std::string_view text, LogFormat& out) {
  if (text == "text") out = LogFormat::Text;
  else if (text == "json") out = LogFormat::Json;
  else return false;
  return true;
}

std::string configure_log(const LogOptions& o) {
  Logger& l = logger();
  std::lock_guard lock(l.config_mu);
  auto sink = std::make_shared<Sink>();
  sink->dest = o.dest;
  sink->format = o.format;
  if (o.dest == LogDest::File) {
    if (o.file.empty()) return "log_dest = \"file\" needs log_file";
    int fd = ::open(o.file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return o.file + ": " + strerror(errno);
    sink->path = o.file;
    sink->fd = fd;
    sink->owns_fd = true;
  } else if (o.dest == LogDest::Syslog) {
    std::call_once(l.syslog_opened, [] { openlog("musqratt", LOG_PID | LOG_NDELAY, LOG_DAEMON); });
    sink->fd = -1;
  }
  l.limiter.set_limits({o.rate_per_second, o.rate_burst});
  l.sink.store(std::move(sink), std::memory_order_release);
  return {};
}

std::string reopen_log_file() {
  Logger& l = logger();
  std::lock_guard lock(l.config_mu);
  std::shared_ptr<const Sink> sink = l.sink.load(std::memory_order_acquire);
  if (sink->dest != LogDest::File) return {};
  int fd = ::open(sink->path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return sink->path + ": " + strerror(errno);
  // dup2 swaps the file under the same descriptor atomically: a writer uses the old or the
  // new file, never a closed descriptor.
  int r = ::dup3(fd, sink->fd, O_CLOEXEC);
  int err = errno;
  ::close(fd);
  if (r < 0) return sink->path + ": " + strerror(err);
  return {};
}

void log_write(LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vemit(level, {}, fmt, ap);
  va_end(ap);
}

void log_write_fields(LogLevel level, std::initializer_list<LogField> fields, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vemit(level, fields, fmt, ap);
  va_end(ap);
}

uint16_t log_limited_key(const char* name) { return logger().limiter.key(name); }

void log_limited(uint16_t key, LogLevel level, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlimited(key, level, now(), fmt, ap);
  va_end(ap);
}

void log_limited_at(uint16_t key, LogLevel level, TimePoint now, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vlimited(key, level, now, fmt, ap);
  va_end(ap);
}

void log_flush_suppressed(TimePoint now, Millis interval) {
  Logger& l = logger();
  std::vector<LogRateLimiter::Summary> due;
  l.limiter.take_due(now, interval, due);
  for (const auto& s : due) emit_summary(static_cast<LogLevel>(s.level), l.limiter.name(s.key), s.suppressed, s.over);
}

}  // namespace musqratt::util
