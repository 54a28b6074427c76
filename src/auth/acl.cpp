#include "auth/acl.h"

#include <fstream>
#include <sstream>

#include "protocol/topic.h"

namespace musqratt::auth {

std::expected<Acl, std::string> Acl::parse(const std::string& text, const std::string& origin) {
  Acl acl;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  Scope scope = Scope::Anonymous;
  std::string subject;
  while (std::getline(in, line)) {
    ++n;
    auto where = [&] { return origin + ":" + std::to_string(n) + ": "; };
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::istringstream words(line.substr(start));
    std::string kind;
    words >> kind;
    if (kind == "user" || kind == "client") {
      words >> std::ws;
      std::getline(words, subject);
      while (!subject.empty() && (subject.back() == ' ' || subject.back() == '\r')) subject.pop_back();
      if (subject.empty()) return std::unexpected(where() + kind + " needs a name");
      scope = kind == "user" ? Scope::User : Scope::Client;
      continue;
    }
    if (kind != "topic" && kind != "pattern") return std::unexpected(where() + "unknown directive '" + kind + "'");
    std::string access_word, filter;
    words >> access_word >> std::ws;
    std::getline(words, filter);
    while (!filter.empty() && (filter.back() == ' ' || filter.back() == '\r')) filter.pop_back();
    Access access;
    if (access_word == "read") access = Access::Read;
    else if (access_word == "write") access = Access::Write;
    else if (access_word == "readwrite") access = Access::ReadWrite;
    else if (!access_word.empty() && filter.empty()) {
      filter = access_word;  // "topic FILTER" means readwrite, as in Mosquitto
      access = Access::ReadWrite;
    } else return std::unexpected(where() + "access must be read, write or readwrite");
    if (!protocol::valid_topic_filter(filter)) return std::unexpected(where() + "invalid topic filter '" + filter + "'");
    acl.rules_.push_back({kind == "pattern" ? Scope::Pattern : scope, subject, access, filter});
  }
  return acl;
}

std::expected<Acl, std::string> Acl::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::unexpected(path + ": cannot read");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

namespace {
std::string substitute(const std::string& filter, const Identity& who) {
  std::string out;
  for (size_t i = 0; i < filter.size(); ++i) {
    if (filter[i] == '%' && i + 1 < filter.size() && (filter[i + 1] == 'u' || filter[i + 1] == 'c')) {
      out += filter[i + 1] == 'u' ? who.username : who.client_id;
      ++i;
    } else {
      out.push_back(filter[i]);
    }
  }
  return out;
}
}  // namespace

bool Acl::allowed(const Identity& who, const std::string& target, Access need, bool is_filter) const {
  for (const Rule& r : rules_) {
    if ((static_cast<uint8_t>(r.access) & static_cast<uint8_t>(need)) == 0) continue;
    switch (r.scope) {
      case Scope::Anonymous: if (!who.anonymous) continue; break;
      case Scope::User: if (who.anonymous || r.subject != who.username) continue; break;
      case Scope::Client: if (r.subject != who.client_id) continue; break;
      case Scope::Pattern: break;
    }
    std::string rule_filter = r.scope == Scope::Pattern ? substitute(r.filter, who) : r.filter;
    // A subscription filter is covered when the rule matches it read as a topic: wildcards in
    // the filter only match the same or wider wildcards in the rule.
    if (is_filter) {
      if (rule_filter == target || protocol::topic_matches(rule_filter, target)) {
        if (target.find('#') != std::string::npos && rule_filter.find('#') == std::string::npos) continue;
        return true;
      }
    } else if (protocol::topic_matches(rule_filter, target)) {
      return true;
    }
  }
  return false;
}

bool Acl::can_publish(const Identity& who, const std::string& topic) const {
  return allowed(who, topic, Access::Write, false);
}
bool Acl::can_subscribe(const Identity& who, const std::string& filter) const {
  return allowed(who, filter, Access::Read, true);
}
bool Acl::can_receive(const Identity& who, const std::string& topic) const {
  return allowed(who, topic, Access::Read, false);
}

}  // namespace musqratt::auth
