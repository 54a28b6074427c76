#pragma once
// Help texts: one table describing every shell command, used by `help`, `--help` and tab
// completion so the three never disagree.

#include <span>
#include <string>
#include <string_view>

namespace musqratt::cli {

/// Documentation of one shell command.
struct CommandHelp {
  std::string_view name;
  std::string_view usage;
  std::string_view summary;
  std::string_view details;
};

std::span<const CommandHelp> command_help();
/// Entry for `name` (aliases such as "exit" included), or nullptr.
const CommandHelp* find_command_help(std::string_view name);
/// `help` with no argument: one line per command.
std::string shell_help_overview();
/// `musqratt-cli --help`.
std::string program_help();
/// `musqratt-cli pub --help` / `musqratt-cli sub --help`.
std::string oneshot_pub_help();
std::string oneshot_sub_help();

}  // namespace musqratt::cli
