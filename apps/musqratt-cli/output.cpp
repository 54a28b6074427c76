#include "output.hpp"

#include <cstdio>
#include "strformat.hpp"

#include "text.hpp"

namespace musqratt::cli {

Output& Output::get() {
  static Output instance;
  return instance;
}

void Output::line(std::string_view text) {
  std::lock_guard lock(mutex_);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void Output::error(std::string_view text) {
  std::lock_guard lock(mutex_);
  std::fflush(stdout);
  std::fputs("error: ", stderr);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Output::note(std::string_view text) {
  std::lock_guard lock(mutex_);
  std::fflush(stdout);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

std::string render_json(const Message& m, bool with_connection) {
  std::string out = "{";
  if (with_connection) out += strformat("\"connection\":{},", json_string(m.connection));
  std::string topic = is_valid_utf8(m.topic) ? json_string(m.topic) : json_string(base64(m.topic));
  out += strformat("\"topic\":{},\"qos\":{},\"retain\":{},", topic, m.qos,
                     m.retain ? "true" : "false");
  if (is_valid_utf8(m.payload))
    out += strformat("\"payload\":{}", json_string(m.payload));
  else
    out += strformat("\"payload_base64\":\"{}\"", base64(m.payload));
  out += '}';
  return out;
}

std::string render_shell_message(const Message& m, Format format, bool tag_connection) {
  if (format == Format::json) return render_json(m, tag_connection);
  std::string out;
  if (tag_connection) out = strformat("[{}] ", m.connection);
  out += strformat("{} qos={} retain={} {}", m.topic, m.qos, m.retain ? 1 : 0, m.payload);
  return out;
}

std::string render_oneshot_message(const Message& m, Format format, bool verbose) {
  if (format == Format::json) return render_json(m, false);
  if (verbose) return m.topic + " " + m.payload;
  return m.payload;
}

}  // namespace musqratt::cli
