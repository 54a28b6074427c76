#include "mosquitto_conf.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace musqratt::cli {
namespace {

std::expected<void, std::string> read_file(const std::string& path, std::vector<MosquittoDirective>& out,
                                           bool included) {
  std::ifstream in(path);
  if (!in) return std::unexpected(path + ": cannot read");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::istringstream words(line);
    MosquittoDirective d{path, n, {}, {}, line, included};
    words >> d.name;
    if (d.name.empty()) continue;
    for (std::string w; words >> w;) d.args.push_back(w);
    const bool include = d.name == "include_dir" && !d.args.empty() && !included;
    const std::string dir = include ? d.args[0] : "";
    out.push_back(std::move(d));
    if (!include) continue;
    std::error_code ec;
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
      if (e.path().extension() == ".conf") files.push_back(e.path().string());
    if (ec) return std::unexpected(dir + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files)
      if (auto r = read_file(f, out, true); !r) return r;
  }
  return {};
}

}  // namespace

std::expected<std::vector<MosquittoDirective>, std::string> read_mosquitto_conf(const std::string& path) {
  std::vector<MosquittoDirective> out;
  if (auto r = read_file(path, out, false); !r) return std::unexpected(r.error());
  return out;
}

}  // namespace musqratt::cli
