#pragma once
// Topic access rules (the ACL file), in Mosquitto's acl_file syntax, one rule per line, '#'
// comments:
//
//   user NAME              following `topic` lines apply to this user
//   client ID              following `topic` lines apply to this client id (ours, not Mosquitto's)
//   topic [ACCESS] FILTER  ACCESS is read, write, readwrite (the default) or deny; before any
//                          user/client line: for anonymous clients
//   pattern [ACCESS] FILTER  applies to every client; %u is the user name, %c the client id
//
// When an ACL is configured, anything not allowed is denied, and a `deny` rule wins over every
// allowing rule, wherever it stands in the file. A pattern never lets a client in whose user name
// or client id carries a wildcard ('+' or '#'): substituted, it would widen the rule; such a
// client matches deny patterns instead (as Mosquitto refuses it).
#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace musqratt::auth {

enum class Access : uint8_t { Read = 1, Write = 2, ReadWrite = 3 };

struct Identity {
  std::string username;  // empty = anonymous
  std::string client_id;
  bool anonymous = true;
};

/// Thread: immutable after parse(); every method may run on any thread.
class Acl {
 public:
  static std::expected<Acl, std::string> parse(const std::string& text, const std::string& origin);
  static std::expected<Acl, std::string> load(const std::string& path);

  bool can_publish(const Identity& who, const std::string& topic) const;
  /// A filter is allowed if some read rule covers it entirely and no deny rule does. A deny
  /// rule covering part of it (subscribing to `a/#` with `topic deny a/secret`) does not refuse
  /// the subscription: each message is checked at delivery by can_receive().
  bool can_subscribe(const Identity& who, const std::string& filter) const;
  /// Per-message check at delivery time (a wide subscription never leaks a denied topic).
  bool can_receive(const Identity& who, const std::string& topic) const;

  size_t rule_count() const { return rules_.size(); }

 private:
  enum class Scope : uint8_t { Anonymous, User, Client, Pattern };
  struct Rule {
    Scope scope;
    bool deny;
    Access access;  // ReadWrite for deny rules
    std::string subject;  // user name or client id
    std::string filter;
  };
  enum class Applies : uint8_t { No, Yes, Unsafe };
  static Applies applies(const Rule& r, const Identity& who, std::string& filter_out);
  bool allowed(const Identity& who, const std::string& topic_or_filter, Access need, bool is_filter) const;
  std::vector<Rule> rules_;
};

}  // namespace musqratt::auth
