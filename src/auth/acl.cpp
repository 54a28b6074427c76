#include "auth/acl.h"

#include <fstream>
#include <sstream>

#include "protocol/topic.h"

namespace musqratt::auth {
namespace {

std::string trimmed_rest(std::istringstream& words) {
  std::string rest;
  words >> std::ws;
  std::getline(words, rest);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t' || rest.back() == '\r')) rest.pop_back();
  return rest;
}

bool has_wildcard_char(const std::string& s) { return s.find_first_of("+#") != std::string::npos; }

/// Is every topic `target` names also named by `rule`? For a topic that is a match; for a
/// subscription filter, wildcards in it must meet the same or wider wildcards in the rule.
bool covers(const std::string& rule, const std::string& target, bool is_filter) {
  if (!is_filter) return protocol::topic_matches(rule, target);
  if (rule != target && !protocol::topic_matches(rule, target)) return false;
  return target.find('#') == std::string::npos || rule.find('#') != std::string::npos;
}

}  // namespace

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
    if (start == std::string::npos || line[start] == '#' || line[start] == '\r') continue;
    std::istringstream words(line.substr(start));
    std::string kind;
    words >> kind;
    if (kind == "user" || kind == "client") {
      subject = trimmed_rest(words);
      if (subject.empty()) return std::unexpected(where() + kind + " needs a name");
      scope = kind == "user" ? Scope::User : Scope::Client;
      continue;
    }
    if (kind != "topic" && kind != "pattern") return std::unexpected(where() + "unknown directive '" + kind + "'");
    std::string access_word;
    words >> access_word;
    std::string filter = trimmed_rest(words);
    Rule rule{kind == "pattern" ? Scope::Pattern : scope, false, Access::ReadWrite, subject, {}};
    if (access_word == "read") rule.access = Access::Read;
    else if (access_word == "write") rule.access = Access::Write;
    else if (access_word == "readwrite") rule.access = Access::ReadWrite;
    else if (access_word == "deny") rule.deny = true;
    else if (!access_word.empty() && filter.empty()) filter = access_word;  // "topic FILTER": readwrite, as in Mosquitto
    else return std::unexpected(where() + "access must be read, write, readwrite or deny");
    if (filter.empty()) return std::unexpected(where() + kind + " needs a topic filter");
    if (!protocol::valid_topic_filter(filter)) return std::unexpected(where() + "invalid topic filter '" + filter + "'");
    rule.filter = std::move(filter);
    acl.rules_.push_back(std::move(rule));
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

Acl::Applies Acl::applies(const Rule& r, const Identity& who, std::string& filter_out) {
  switch (r.scope) {
    case Scope::Anonymous: return who.anonymous ? Applies::Yes : Applies::No;
    case Scope::User: return !who.anonymous && r.subject == who.username ? Applies::Yes : Applies::No;
    case Scope::Client: return r.subject == who.client_id ? Applies::Yes : Applies::No;
    case Scope::Pattern: break;
  }
  filter_out.clear();
  const std::string& f = r.filter;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '%' && i + 1 < f.size() && (f[i + 1] == 'u' || f[i + 1] == 'c')) {
      const bool user = f[i + 1] == 'u';
      // An anonymous client has no user name: a %u rule never allows it anything, and a deny
      // rule reads %u as empty.
      if (user && who.anonymous) {
        if (!r.deny) return Applies::No;
        ++i;
        continue;
      }
      const std::string& value = user ? who.username : who.client_id;
      if (has_wildcard_char(value)) return Applies::Unsafe;
      filter_out += value;
      ++i;
    } else {
      filter_out.push_back(f[i]);
    }
  }
  return Applies::Yes;
}

bool Acl::allowed(const Identity& who, const std::string& target, Access need, bool is_filter) const {
  bool allow = false;
  std::string substituted;
  for (const Rule& r : rules_) {
    if (!r.deny && (allow || (static_cast<uint8_t>(r.access) & static_cast<uint8_t>(need)) == 0)) continue;
    Applies a = applies(r, who, substituted);
    if (a == Applies::No) continue;
    if (a == Applies::Unsafe) {
      if (r.deny) return false;  // a wildcard in the name: refuse rather than guess what it would deny
      continue;
    }
    const std::string& filter = r.scope == Scope::Pattern ? substituted : r.filter;
    if (r.deny) {
      if (covers(filter, target, is_filter)) return false;  // deny wins wherever it stands
    } else if (covers(filter, target, is_filter)) {
      allow = true;
    }
  }
  return allow;
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
