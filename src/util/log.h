#pragma once
// Leveled logging. One line per event, written with a single write(2) (or one syslog(3) call)
// so lines from several worker threads never interleave.
//
// Where lines go and how they look is set by configure_log(): standard error, syslog or a file
// (reopened by reopen_log_file(), for logrotate), as text or as JSON lines. The logger is the one
// process-wide object of the tree: every thread logs, and a reload replaces its sink atomically.
//
// Lines a remote peer can trigger at will (a refused CONNECT, a protocol violation, a failed
// accept, an authentication failure) must go through LOG_RATE_LIMITED (or the LOG_*_LIMITED
// shorthands) with a key naming their kind: past a burst, each kind is limited to a few lines a
// second and the rest are counted into one "suppressed N similar messages" line (see
// LogRateLimiter).
#include <cstdarg>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "util/clock.h"

namespace musqratt::util {

enum class LogLevel { Trace = 0, Debug, Info, Warn, Error, Off };
enum class LogDest { Stderr, Syslog, File };
enum class LogFormat { Text, Json };

struct LogOptions {
  LogDest dest = LogDest::Stderr;
  std::string file;  // LogDest::File: path, appended to, created 0640 if missing
  LogFormat format = LogFormat::Text;
  uint32_t rate_per_second = 10;  // rate-limited kinds: lines per second per kind (0 = no limit)
  uint32_t rate_burst = 50;       // rate-limited kinds: burst per kind
};

/// Process-wide log threshold. Thread: any (relaxed atomic).
void set_log_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(std::string_view text, LogLevel& out);
bool parse_log_dest(std::string_view text, LogDest& out);
bool parse_log_format(std::string_view text, LogFormat& out);
const char* log_level_name(LogLevel level);

/// Replaces where and how lines are written. Opens the file first: on error the previous sink
/// stays and the error is returned (empty on success). Thread: any; lines being written keep
/// the sink they started with.
std::string configure_log(const LogOptions& options);
/// Reopens the log file under its configured path (after logrotate moved it away). The new
/// descriptor replaces the old one in place (dup2), so no line is lost or torn. No-op unless
/// the destination is a file. Returns an error message, empty on success.
std::string reopen_log_file();

/// A structured field: a key and its value, emitted as a JSON member (text lines show only the
/// message). Keys "time", "level" and "message" are taken.
struct LogField {
  std::string_view key;
  std::string_view value;
};

void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void log_write_fields(LogLevel level, std::initializer_list<LogField> fields, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/// The id of a rate-limited kind of line, registered once per call site by LOG_RATE_LIMITED.
uint16_t log_limited_key(const char* name);
/// Writes the line if its kind's bucket allows it (first a summary of what was suppressed
/// before it, if anything was), else counts it.
void log_limited(uint16_t key, LogLevel level, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
/// Same, at an explicit time (tests).
void log_limited_at(uint16_t key, LogLevel level, TimePoint now, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
/// Writes "suppressed N similar messages" for every kind whose suppressed lines are at least
/// `interval` old. Call about once a second (the server's main thread does).
void log_flush_suppressed(TimePoint now, Millis interval = Seconds(10));

}  // namespace musqratt::util

#define MQ_LOG(level, ...)                                                        \
  do {                                                                            \
    if (static_cast<int>(level) >= static_cast<int>(::musqratt::util::log_level())) \
      ::musqratt::util::log_write(level, __VA_ARGS__);                            \
  } while (0)
#define LOG_TRACE(...) MQ_LOG(::musqratt::util::LogLevel::Trace, __VA_ARGS__)
#define LOG_DEBUG(...) MQ_LOG(::musqratt::util::LogLevel::Debug, __VA_ARGS__)
#define LOG_INFO(...) MQ_LOG(::musqratt::util::LogLevel::Info, __VA_ARGS__)
#define LOG_WARN(...) MQ_LOG(::musqratt::util::LogLevel::Warn, __VA_ARGS__)
#define LOG_ERROR(...) MQ_LOG(::musqratt::util::LogLevel::Error, __VA_ARGS__)

/// A line a remote peer can trigger. `key` (a string literal such as "auth.failure") names its
/// kind: lines of one kind share a bucket, whatever their call site. Lines under the log level
/// cost one comparison, as for MQ_LOG; a suppressed line costs one bucket update and no
/// formatting.
#define LOG_RATE_LIMITED(level, key, ...)                                                         \
  do {                                                                                            \
    if (static_cast<int>(level) >= static_cast<int>(::musqratt::util::log_level())) {             \
      static const uint16_t mq_log_key_ = ::musqratt::util::log_limited_key(key);                 \
      ::musqratt::util::log_limited(mq_log_key_, level, __VA_ARGS__);                             \
    }                                                                                             \
  } while (0)
#define LOG_DEBUG_LIMITED(key, ...) LOG_RATE_LIMITED(::musqratt::util::LogLevel::Debug, key, __VA_ARGS__)
#define LOG_INFO_LIMITED(key, ...) LOG_RATE_LIMITED(::musqratt::util::LogLevel::Info, key, __VA_ARGS__)
#define LOG_WARN_LIMITED(key, ...) LOG_RATE_LIMITED(::musqratt::util::LogLevel::Warn, key, __VA_ARGS__)
#define LOG_ERROR_LIMITED(key, ...) LOG_RATE_LIMITED(::musqratt::util::LogLevel::Error, key, __VA_ARGS__)
