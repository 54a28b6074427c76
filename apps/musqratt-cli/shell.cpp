#include "shell.hpp"

#include <editline/readline.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "help.hpp"
#include "output.hpp"

namespace musqratt::cli {
namespace {

/// Runs every command of one piece of script text; false if any failed.
bool run_text(CommandRunner& runner, std::string_view text) {
  auto commands = parse_script(text);
  if (!commands) {
    Output::get().error(commands.error());
    return false;
  }
  bool ok = true;
  for (const auto& words : *commands) {
    if (runner.quit_requested()) break;
    ok = runner.run(words) && ok;
  }
  return ok;
}

// Tab completion state: editline's C callbacks cannot capture, so they read these.
CommandRunner* g_runner = nullptr;
std::vector<std::string> g_candidates;

char* completion_generator(const char* text, int state) {
  static std::size_t index;
  if (state == 0) index = 0;
  std::size_t len = std::strlen(text);
  while (index < g_candidates.size()) {
    const std::string& c = g_candidates[index++];
    if (c.compare(0, len, text) == 0) return strdup(c.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // no filename completion
  g_candidates.clear();
  std::string line(rl_line_buffer, static_cast<std::size_t>(start));
  auto first = line.find_first_not_of(" \t");
  if (first == std::string::npos) {
    for (const auto& c : command_help()) g_candidates.emplace_back(c.name);
  } else {
    std::string command = line.substr(first, line.find_first_of(" \t", first) - first);
    if (command == "use" || command == "disconnect")
      g_candidates = g_runner->connection_names();
    else if (command == "help")
      for (const auto& c : command_help()) g_candidates.emplace_back(c.name);
    else if (command == "format")
      g_candidates = {"json", "text"};
  }
  return rl_completion_matches(text, completion_generator);
}

std::string history_path() {
  const char* home = std::getenv("HOME");
  return home ? std::string(home) + "/.musqratt_cli_history" : std::string();
}

}  // namespace

int run_interactive(CommandRunner& runner) {
  g_runner = &runner;
  rl_readline_name = const_cast<char*>("musqratt-cli");
  rl_attempted_completion_function = complete;
  using_history();
  std::string history = history_path();
  if (!history.empty()) read_history(history.c_str());
  Output::get().line("musqratt-cli: type 'help' for commands, 'quit' to leave");
  while (!runner.quit_requested()) {
    std::string prompt = runner.prompt();
    char* raw = readline(prompt.c_str());
    if (!raw) {
      std::fputc('\n', stdout);
      break;
    }
    std::string line(raw);
    std::free(raw);
    auto last = line.find_last_not_of(" \t");
    if (last == std::string::npos) continue;
    add_history(line.substr(0, last + 1).c_str());
    run_text(runner, line);
    std::clearerr(stdin);  // `pub t -` may have read stdin to EOF
  }
  if (!history.empty()) write_history(history.c_str());
  runner.disconnect_all();
  return 0;
}

int run_stdin_script(CommandRunner& runner) {
  bool ok = true;
  std::string line;
  while (!runner.quit_requested() && std::getline(std::cin, line)) ok = run_text(runner, line) && ok;
  runner.disconnect_all();
  return ok ? 0 : 1;
}

int run_command_string(CommandRunner& runner, const std::string& commands) {
  bool ok = run_text(runner, commands);
  runner.disconnect_all();
  return ok ? 0 : 1;
}

}  // namespace musqratt::cli
