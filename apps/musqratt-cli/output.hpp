#pragma once
// Everything the program prints goes through here: result lines on stdout, errors and
// notes on stderr, and received messages rendered as text or JSON.

#include <mutex>
#include <string>
#include <string_view>

namespace musqratt::cli {

enum class Format { text, json };

/// A received PUBLISH, copied out of libmosquitto's callback so it can be rendered.
struct Message {
  std::string connection;  // name of the shell connection it arrived on
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

/// Serialises and flushes every printed line, because messages are printed from network
/// threads while the main thread prints command results; without the lock lines would
/// interleave mid-line and script readers could not parse them.
class Output {
 public:
  static Output& get();

  void line(std::string_view text);   ///< stdout, newline added
  void error(std::string_view text);  ///< stderr, "error: " prefix added
  void note(std::string_view text);   ///< stderr, as is

 private:
  std::mutex mutex_;
};

/// Shell rendering: `<topic> qos=<n> retain=<0|1> <payload>` or a JSON object; when
/// `tag_connection` is set (several connections open) the connection name is included.
std::string render_shell_message(const Message& m, Format format, bool tag_connection);

/// One-shot `sub` rendering, like mosquitto_sub: payload, or `topic payload` with
/// `verbose`, or the JSON object.
std::string render_oneshot_message(const Message& m, Format format, bool verbose);

/// `{"topic":..,"qos":..,"retain":..,"payload":..}`; a payload that is not valid UTF-8 is
/// given as "payload_base64" instead of "payload".
std::string render_json(const Message& m, bool with_connection);

}  // namespace musqratt::cli
