#include "help.hpp"

#include <array>
#include "strformat.hpp"

namespace musqratt::cli {
namespace {

constexpr std::array<CommandHelp, 12> kCommands{{
    {"connect",
     "connect [CLIENT_ID] [--host H] [--port P] [--v5|--v311] [--keepalive S]\n"
     "        [--session-expiry S] [--clean|--resume] [--user U --password PW] [--name NAME]",
     "open a named connection and make it current",
     "Connects (default 127.0.0.1:1883, MQTT 5.0, clean start, keepalive 60 s) and waits\n"
     "for CONNACK: prints 'connected NAME (session present: yes|no)' or\n"
     "'error: connection refused: REASON (0xNN)'. The connection is named after the client\n"
     "id (or --name); without a client id one is generated. --resume asks the broker to\n"
     "keep the session (MQTT 5.0: give --session-expiry too, else it ends at disconnect).\n"
     "--session-expiry is MQTT 5.0 only."},
    {"disconnect", "disconnect [NAME]", "close the current (or the named) connection",
     "Sends DISCONNECT and prints 'disconnected NAME'. The name stays listed by 'status'\n"
     "and can be connected again with 'connect NAME'."},
    {"sub", "sub TOPIC_FILTER... [--qos N]", "subscribe the current connection",
     "Waits for SUBACK and prints 'subscribed FILTER (granted qos N)', or the failure reason.\n"
     "Messages then print as they arrive, one line each:\n"
     "  TOPIC qos=N retain=0|1 PAYLOAD\n"
     "or with 'format json' one JSON object per line:\n"
     "  {\"topic\":..,\"qos\":..,\"retain\":..,\"payload\":..}\n"
     "(\"payload_base64\" instead of \"payload\" when the payload is not UTF-8). While more\n"
     "than one connection exists, lines are tagged with the connection: '[NAME] ...' or a\n"
     "\"connection\" field. '#' must be a whole, last level; '+' a whole level."},
    {"unsub", "unsub TOPIC_FILTER...", "unsubscribe the current connection",
     "Waits for UNSUBACK and prints 'unsubscribed FILTER'."},
    {"pub", "pub TOPIC PAYLOAD [--qos N] [--retain] [--expiry S]",
     "publish on the current connection",
     "PAYLOAD is the text itself, '@FILE' for a file's contents, or '-' for standard input\n"
     "up to EOF (not available when the commands themselves come from stdin). At QoS 1/2\n"
     "waits for PUBACK/PUBCOMP and prints 'published TOPIC (qos N, packet id ID)';\n"
     "MQTT 5.0 reason codes >= 0x80 are errors. --expiry sets the MQTT 5.0 message expiry\n"
     "interval in seconds. The topic must not contain wildcards.\n"
     "The product spec's 'pub [topic] [packet id]' form: the packet identifier is chosen by\n"
     "the client (MQTT forbids reusing one still in flight) and reported in the output."},
    {"status", "status", "list connections",
     "One line per connection: '*' for the current one, name, host:port, protocol, connected\n"
     "or disconnected, and its subscriptions."},
    {"use", "use NAME", "make NAME the current connection", "Prints 'using NAME'."},
    {"format", "format json|text", "choose how received messages print",
     "Same as the program flag --format."},
    {"wait", "wait SECONDS | wait --count N [--timeout S]", "let messages arrive (scripts)",
     "'wait SECONDS' keeps printing arrivals for that long. 'wait --count N' returns as soon\n"
     "as N messages have arrived since the previous wait (or the start), counting ones that\n"
     "arrived before the command; fails after --timeout seconds (default 10)."},
    {"help", "help [COMMAND]", "show help", "Without an argument lists every command."},
    {"quit", "quit", "disconnect everything and leave (also 'exit')", ""},
    {"exit", "exit", "same as quit", ""},
}};

}  // namespace

std::span<const CommandHelp> command_help() { return kCommands; }

const CommandHelp* find_command_help(std::string_view name) {
  for (const auto& c : kCommands)
    if (c.name == name) return &c;
  return nullptr;
}

std::string shell_help_overview() {
  std::string out = "Commands (help COMMAND for details):\n";
  for (const auto& c : kCommands) out += strformat("  {:<11}{}\n", c.name, c.summary);
  out +=
      "Commands are separated by newlines or ';'; quote words with '...' or \"...\".\n"
      "Errors print as 'error: ...'.";
  return out;
}

std::string program_help() {
  std::string out =
      "usage: musqratt-cli [--format text|json] [--host H] [--port P] [-c \"CMD; CMD; ...\"]\n"
      "       musqratt-cli pub [options]    (one-shot publish; pub --help)\n"
      "       musqratt-cli sub [options]    (one-shot subscribe; sub --help)\n"
      "       musqratt-cli passwd FILE USER [-p PASSWORD] [-D]   (manage the broker's password file)\n"
      "       musqratt-cli import-mosquitto-conf MOSQUITTO_CONF [-o FILE]   (a musqratt.toml from a mosquitto.conf)\n"
      "       musqratt-cli store backup DIR DEST | store check DIR   (the persistence database)\n"
      "\n"
      "MQTT 3.1.1/5.0 client shell. Reads commands interactively (line editing, history,\n"
      "tab completion) when stdin is a terminal, line by line from stdin otherwise, or\n"
      "from -c. In script mode (stdin or -c) every command runs even after a failure and\n"
      "the exit status is 1 if any failed.\n"
      "\n"
      "options:\n"
      "  -c CMDS          run these commands (separated by ';' or newlines) and exit\n"
      "  --format F       print received messages as 'text' (default) or 'json'\n"
      "  --host H         default host for 'connect' (127.0.0.1)\n"
      "  --port P         default port for 'connect' (1883)\n"
      "  --help           this text\n"
      "  --version        print the version\n"
      "\n"
      "shell commands:\n";
  for (const auto& c : kCommands) {
    if (c.name == "exit") continue;
    out += strformat("\n  {}\n", c.usage);
    out += strformat("      {}.\n", c.summary);
    std::string_view d = c.details;
    while (!d.empty()) {
      auto nl = d.find('\n');
      out += strformat("      {}\n", d.substr(0, nl));
      if (nl == std::string_view::npos) break;
      d.remove_prefix(nl + 1);
    }
  }
  return out;
}

std::string oneshot_pub_help() {
  return "usage: musqratt-cli pub [-h HOST] [-p PORT] [-V 5|311] [-i ID] [-k KEEPALIVE]\n"
         "                        [-u USER -P PASSWORD] -t TOPIC (-m MSG | -f FILE | -s | -n)\n"
         "                        [-q QOS] [-r] [--expiry S]\n"
         "Publishes one message and exits (0 on success, 1 on error), like mosquitto_pub.\n"
         "  -h HOST     broker host (127.0.0.1)        -p PORT   broker port (1883)\n"
         "  -V 5|311    protocol version (5)           -i ID     client id\n"
         "  -k SECONDS  keepalive (60)                 -u/-P     user name / password\n"
         "  -t TOPIC    topic (no wildcards)           -q QOS    0, 1 or 2 (0)\n"
         "  -m MSG      payload text                   -f FILE   payload from a file\n"
         "  -s          payload from stdin to EOF      -n        empty payload\n"
         "  -r          retain                         --expiry S  message expiry (5.0)\n"
         "At QoS 1/2 the command waits for PUBACK/PUBCOMP and fails on a reason >= 0x80.";
}

std::string oneshot_sub_help() {
  return "usage: musqratt-cli sub [-h HOST] [-p PORT] [-V 5|311] [-i ID] [-k KEEPALIVE]\n"
         "                        [-u USER -P PASSWORD] -t FILTER [-t FILTER...] [-q QOS]\n"
         "                        [-C COUNT] [-W SECONDS] [-v] [--format json]\n"
         "Subscribes and prints each message on one line, like mosquitto_sub: the payload,\n"
         "'TOPIC PAYLOAD' with -v, or a JSON object with --format json.\n"
         "  -C COUNT    exit 0 after COUNT messages\n"
         "  -W SECONDS  give up after SECONDS: exit 27 (as mosquitto_sub)\n"
         "Exits 1 on errors (connection refused, SUBACK failure, connection lost).";
}

}  // namespace musqratt::cli
