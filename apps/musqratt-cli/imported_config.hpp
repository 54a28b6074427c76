#pragma once
// A musqratt.toml being written from another broker's configuration: top-level keys, each with
// the source lines it came from, [[bridge]] tables, and notes on what could not be carried
// over. to_toml() writes it out, comments included.
#include <string>
#include <utility>
#include <vector>

namespace musqratt::cli {

/// A TOML value already written out ("\"text\"", "42", "[\"a\", \"b\"]", "true").
std::string toml_string(const std::string& s);
std::string toml_list(const std::vector<std::string>& items);

struct ImportedBridgeTopic {
  std::string filter, direction = "out", local_prefix, remote_prefix;
  int qos = 0;
};

struct ImportedBridge {
  std::string name;
  std::vector<std::pair<std::string, std::string>> keys;  // key, TOML value, in order
  std::vector<ImportedBridgeTopic> topics;
  std::vector<std::string> comments;  // sources and notes, written above the table
  void set(const std::string& key, const std::string& value);
};

class ImportedConfig {
 public:
  /// Sets `key` (replacing an earlier value) and records where it came from.
  void set(const std::string& key, const std::string& value, const std::string& source);
  bool has(const std::string& key) const;
  /// A directive that was not carried over, and why.
  void skip(const std::string& source, const std::string& why);
  /// A directive whose effect is MusQraTT's own behaviour: nothing to write.
  void same(const std::string& source, const std::string& why) { same_.push_back(source + "\n#   " + why); }
  /// A remark that is not about one directive.
  void note(const std::string& text) { notes_.push_back(text); }
  ImportedBridge& add_bridge(const std::string& name, const std::string& source);
  bool empty_bridges() const { return bridges_.empty(); }
  ImportedBridge* last_bridge() { return bridges_.empty() ? nullptr : &bridges_.back(); }

  std::string to_toml(const std::string& origin) const;
  size_t carried() const { return carried_; }
  size_t skipped() const { return skipped_.size(); }
  /// A password was written (the output should not be world-readable).
  bool has_secret() const { return has_secret_; }
  void mark_secret() { has_secret_ = true; }
  void count_carried() { ++carried_; }
  /// A directive counted as carried over turned out not to be (it is listed by skip()).
  void uncount() { if (carried_) --carried_; }

 private:
  struct Entry {
    std::string key, value;
    std::vector<std::string> sources;
  };
  std::vector<Entry> entries_;
  std::vector<std::string> skipped_;
  std::vector<std::string> same_;
  std::vector<std::string> notes_;
  std::vector<ImportedBridge> bridges_;
  size_t carried_ = 0;
  bool has_secret_ = false;
};

}  // namespace musqratt::cli
