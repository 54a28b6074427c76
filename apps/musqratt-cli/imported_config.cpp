#include "imported_config.hpp"

#include <algorithm>
#include <cstdio>

namespace musqratt::cli {

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out + "\"";
}

std::string toml_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + toml_string(items[i]);
  return out + "]";
}

void ImportedBridge::set(const std::string& key, const std::string& value) {
  auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& kv) { return kv.first == key; });
  if (it != keys.end()) it->second = value;
  else keys.emplace_back(key, value);
}

void ImportedConfig::set(const std::string& key, const std::string& value, const std::string& source) {
  auto it = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (it == entries_.end()) {
    entries_.push_back({key, value, {}});
    it = entries_.end() - 1;
  }
  it->value = value;
  if (!source.empty() && std::find(it->sources.begin(), it->sources.end(), source) == it->sources.end())
    it->sources.push_back(source);
}

bool ImportedConfig::has(const std::string& key) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
}

void ImportedConfig::skip(const std::string& source, const std::string& why) {
  skipped_.push_back(source + "\n#   " + why);
}

ImportedBridge& ImportedConfig::add_bridge(const std::string& name, const std::string& source) {
  bridges_.push_back({});
  bridges_.back().name = name;
  bridges_.back().comments.push_back("from " + source);
  return bridges_.back();
}

std::string ImportedConfig::to_toml(const std::string& origin) const {
  std::string out;
  out += "# MusQraTT configuration imported from " + origin + "\n";
  out += "# by `musqratt-cli import-mosquitto-conf`: " + std::to_string(carried_) + " directive(s) carried over, " +
         std::to_string(skipped_.size()) + " not (each is listed at the end, with the reason).\n";
  out += "# Check it before use: musqratt --check-config --config THIS_FILE\n";
  out += "# Password and ACL files are read as Mosquitto wrote them; see docs/operations.md.\n";
  for (const auto& n : notes_) out += "#\n# " + n + "\n";
  for (const Entry& e : entries_) {
    out += "\n";
    for (const auto& s : e.sources) out += "# from " + s + "\n";
    out += e.key + " = " + e.value + "\n";
  }
  if (!same_.empty()) {
    out += "\n# ---- Carried over with no key: MusQraTT behaves so by itself ----\n";
    for (const auto& s : same_) out += "# " + s + "\n";
  }
  if (!skipped_.empty()) {
    out += "\n# ---- Not carried over ----\n";
    for (const auto& s : skipped_) out += "# " + s + "\n";
  }
  if (!bridges_.empty()) {
    out += "\n# ---- Bridges ----\n"
           "# [[bridge]] tables as docs/bridge.md describes them. Unlike Mosquitto's, the bridge\n"
           "# buffers what the upstream has not acknowledged in the store (on disk with\n"
           "# persistence = true) and limits it with buffer_max_messages / buffer_max_bytes.\n";
  }
  for (const ImportedBridge& b : bridges_) {
    out += "\n";
    for (const auto& c : b.comments) out += "# " + c + "\n";
    out += "[[bridge]]\nname = " + toml_string(b.name) + "\n";
    for (const auto& [k, v] : b.keys) out += k + " = " + v + "\n";
    if (!b.topics.empty()) {
      out += "topics = [\n";
      for (const auto& t : b.topics)
        out += "  { filter = " + toml_string(t.filter) + ", direction = " + toml_string(t.direction) +
               ", qos = " + std::to_string(t.qos) + ", local_prefix = " + toml_string(t.local_prefix) +
               ", remote_prefix = " + toml_string(t.remote_prefix) + " },\n";
      out += "]\n";
    }
  }
  return out;
}

}  // namespace musqratt::cli
