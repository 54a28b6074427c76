#pragma once
// Topic access rules (the ACL file). Syntax, one rule per line, '#' comments:
//
//   user NAME            following `topic` lines apply to this user
//   client ID            following `topic` lines apply to this client id
//   topic ACCESS FILTER  ACCESS is read, write or readwrite (before any user/client line:
//                        for anonymous clients)
//   pattern ACCESS FILTER  applies to every client; %u is the user name, %c the client id
//
// When an ACL is configured, anything not allowed is denied.
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

class Acl {
 public:
  static std::expected<Acl, std::string> parse(const std::string& text, const std::string& origin);
  static std::expected<Acl, std::string> load(const std::string& path);

  bool can_publish(const Identity& who, const std::string& topic) const;
  /// A filter is allowed if some read rule covers it entirely.
  bool can_subscribe(const Identity& who, const std::string& filter) const;
  /// Per-message check at delivery time (a wide subscription never leaks a denied topic).
  bool can_receive(const Identity& who, const std::string& topic) const;

 private:
  enum class Scope : uint8_t { Anonymous, User, Client, Pattern };
  struct Rule {
    Scope scope;
    std::string subject;  // user name or client id
    Access access;
    std::string filter;
  };
  bool allowed(const Identity& who, const std::string& topic_or_filter, Access need, bool is_filter) const;
  std::vector<Rule> rules_;
};

}  // namespace musqratt::auth
