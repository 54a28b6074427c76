#pragma once
// Front ends that feed commands to a CommandRunner: an interactive editline prompt, a
// stream of lines (stdin that is not a terminal), or one -c string.

#include <string>

#include "commands.hpp"

namespace musqratt::cli {

/// Interactive shell with line editing, history (~/.musqratt_cli_history) and tab
/// completion; keeps going after errors. Returns the exit status (always 0).
int run_interactive(CommandRunner& runner);

/// Runs commands read line by line from stdin, each as soon as its line is read, so
/// scripts can interleave with arrivals. Returns 1 if any command failed, else 0.
int run_stdin_script(CommandRunner& runner);

/// Runs the commands of a -c string. Returns 1 if any command failed, else 0.
int run_command_string(CommandRunner& runner, const std::string& commands);

}  // namespace musqratt::cli
