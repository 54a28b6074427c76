#pragma once
// The server's settings: one table of options, each reachable both as a TOML key and as a
// command-line flag (`some_key` <-> `--some-key`), so the two can never drift apart.
#include <string>
#include <vector>

#include "broker/config.h"

namespace musqratt::app {

struct Settings {
  std::vector<std::string> listen{"127.0.0.1:1883"};
  unsigned threads = 0;  // 0 = number of cores
  std::string log_level = "info";
  std::string transport = "epoll";
  std::string config_file;  // set when --config was given
  std::string allow_anonymous = "auto";
  broker::BrokerConfig broker;
};

enum class ParseOutcome { Run, ExitOk, ExitError };

/// Parses argv (and the TOML file named by --config, flags winning over the file).
/// Prints --help / --version / errors itself.
ParseOutcome parse_settings(int argc, char** argv, Settings& out);

/// Resolves allow_anonymous against the listeners: returns an error message if a listener off
/// loopback would accept anyone without that being asked for explicitly.
std::string resolve_access_policy(Settings& s);

/// Markdown table of every option (used to check docs/configuration.md stays complete).
std::string options_reference();

}  // namespace musqratt::app
