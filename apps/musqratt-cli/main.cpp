// musqratt-cli: MQTT 3.1.1/5.0 client shell and one-shot pub/sub for MusQraTT.

#include <mosquitto.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include "strformat.hpp"
#include <string>

#include "command_parser.hpp"
#include "commands.hpp"
#include "help.hpp"
#include "oneshot.hpp"
#include "output.hpp"
#include "mosquitto_import.hpp"
#include "passwd.hpp"
#include "shell.hpp"
#include "store_tools.hpp"

namespace {

using namespace musqratt::cli;

/// Initialises libmosquitto for the life of the process.
struct MosquittoLibrary {
  MosquittoLibrary() { mosquitto_lib_init(); }
  ~MosquittoLibrary() { mosquitto_lib_cleanup(); }
};

int usage_error(const std::string& message) {
  Output::get().error(message + " (see 'musqratt-cli --help')");
  return 1;
}

int run_shell(int argc, char** argv) {
  ShellSettings settings;
  std::optional<std::string> commands;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= argc) return std::nullopt;
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-?") {
      Output::get().line(program_help());
      return 0;
    } else if (arg == "--version") {
      Output::get().line("musqratt-cli 0.1.0");
      return 0;
    } else if (arg == "-c") {
      commands = value();
      if (!commands) return usage_error("-c needs the commands to run");
    } else if (arg == "--format") {
      auto v = value();
      if (v == "json")
        settings.format = Format::json;
      else if (v == "text")
        settings.format = Format::text;
      else
        return usage_error("--format needs json or text");
    } else if (arg == "--host") {
      auto v = value();
      if (!v) return usage_error("--host needs a value");
      settings.default_host = *v;
    } else if (arg == "--port") {
      auto v = value();
      if (!v) return usage_error("--port needs a value");
      auto port = parse_int(*v, "port", 1, 65535);
      if (!port) return usage_error(port.error());
      settings.default_port = static_cast<int>(*port);
    } else {
      return usage_error(strformat("unknown argument '{}'", arg));
    }
  }
  bool interactive = !commands && ::isatty(STDIN_FILENO);
  settings.stdin_free = commands.has_value() || interactive;
  CommandRunner runner(settings);
  if (commands) return run_command_string(runner, *commands);
  if (interactive) return run_interactive(runner);
  return run_stdin_script(runner);
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  MosquittoLibrary library;
  if (argc >= 2 && std::strcmp(argv[1], "pub") == 0) return run_oneshot_pub(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "sub") == 0) return run_oneshot_sub(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "passwd") == 0) return run_passwd(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "import-mosquitto-conf") == 0) return run_import_mosquitto_conf(argc - 2, argv + 2);
  if (argc >= 2 && std::strcmp(argv[1], "store") == 0) return run_store(argc - 2, argv + 2);
  return run_shell(argc, argv);
}
