#pragma once
// Leveled logging to stderr. One line per event, written with a single write(2) so lines from
// several worker threads never interleave.
#include <cstdarg>
#include <string_view>

namespace musqratt::util {

enum class LogLevel { Trace = 0, Debug, Info, Warn, Error, Off };

/// Process-wide log threshold. Thread: set once at start-up (or on reload), read everywhere.
void set_log_level(LogLevel level);
LogLevel log_level();
bool parse_log_level(std::string_view text, LogLevel& out);

void log_write(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

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
