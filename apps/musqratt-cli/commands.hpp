#pragma once
// The shell's commands: connect, disconnect, sub, unsub, pub, status, use, format, wait,
// help, quit.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "command_parser.hpp"
#include "output.hpp"
#include "registry.hpp"

namespace musqratt::cli {

/// Settings given on the program's command line that shape the shell.
struct ShellSettings {
  Format format = Format::text;
  std::string default_host = "127.0.0.1";
  int default_port = 1883;
  bool stdin_free = true;  // false when commands are read from stdin (so `pub t -` can't)
};

/// Executes one parsed command at a time against the shell's connections and prints its
/// result; it is the only place that knows the command set, so the interactive, stdin and
/// -c front ends differ only in where lines come from.
class CommandRunner {
 public:
  explicit CommandRunner(ShellSettings settings);
  /// Disconnects first: network threads call back into this object until they stop.
  ~CommandRunner() { registry_.disconnect_all(); }

  /// Runs one command; false if it failed (its error line has been printed).
  bool run(const Words& words);
  bool quit_requested() const { return quit_; }
  /// Names of the connections, for tab completion.
  std::vector<std::string> connection_names() const;
  /// Prompt text showing the current connection.
  std::string prompt();
  void disconnect_all() { registry_.disconnect_all(); }

 private:
  using Handler = bool (CommandRunner::*)(const Words& args);
  bool cmd_connect(const Words& args);
  bool cmd_disconnect(const Words& args);
  bool cmd_sub(const Words& args);
  bool cmd_unsub(const Words& args);
  bool cmd_pub(const Words& args);
  bool cmd_status(const Words& args);
  bool cmd_use(const Words& args);
  bool cmd_format(const Words& args);
  bool cmd_wait(const Words& args);
  bool cmd_help(const Words& args);
  bool cmd_quit(const Words& args);

  /// The current connection if it is connected; otherwise prints the error, returns null.
  ConnectionRegistry::Entry* require_connected();
  bool fail(const std::string& message);
  void on_message(Message&& m);

  ShellSettings settings_;
  std::atomic<Format> format_;
  ConnectionRegistry registry_;
  bool quit_ = false;
  unsigned generated_ids_ = 0;

  std::mutex arrivals_mutex_;
  std::condition_variable arrived_;
  std::uint64_t received_ = 0;  // messages printed so far
  std::uint64_t consumed_ = 0;  // messages already accounted for by `wait`
};

}  // namespace musqratt::cli
