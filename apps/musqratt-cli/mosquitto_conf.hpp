#pragma once
// Reading a mosquitto.conf as Mosquitto does: one directive per line, '#' comments only as the
// first character of a line, values separated by spaces, and `include_dir DIR` (in the main file
// only) reading DIR's *.conf files in sorted order where it stands.
#include <expected>
#include <string>
#include <vector>

namespace musqratt::cli {

struct MosquittoDirective {
  std::string file;
  int line = 0;
  std::string name;
  std::vector<std::string> args;
  std::string text;  // the line as written, for comments
  bool included = false;  // read from a file of an include_dir
  std::string where() const { return file + ":" + std::to_string(line); }
};

/// Every directive of `path` and of the files its include_dir lines name. `include_dir` itself
/// is kept in the list, right before the directives it includes; one in an included file is
/// kept but not followed (Mosquitto ignores it too). Fails if a file cannot be read.
std::expected<std::vector<MosquittoDirective>, std::string> read_mosquitto_conf(const std::string& path);

}  // namespace musqratt::cli
