#pragma once
// The [[bridge]] tables of the TOML configuration: parsed with toml++ through one table of
// keys (each with its type, range, default and help), checked as far as anything can be
// before connecting (files exist, filters are valid, prefixes have no wildcard), and printed
// back for --print-config. A bad table refuses to start with a message that names the file
// and line, the table (its name or position) and the key.
#include <stdexcept>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "bridge/bridge_config.h"

namespace musqratt::bridge {

/// A bad [[bridge]] table; what() says where and why.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads the value of the top-level key `bridge` (an array of tables) from the file `source`.
/// `host_name` makes the default client ids ("<host_name>.<name>"). Throws ConfigError.
std::vector<BridgeConfig> parse_bridges(const toml::node& node, const std::string& source, const std::string& host_name);

/// The tables as TOML ([[bridge]] ... ), read back by parse_bridges into the same values.
std::string format_bridges(const std::vector<BridgeConfig>& bridges);
/// Every key commented out with its default and meaning: the --print-config text when no
/// bridge is configured.
std::string describe_bridge_keys();
/// Markdown rows `| key | default | meaning |` of every [[bridge]] and topics key.
std::string bridge_keys_reference();

}  // namespace musqratt::bridge
