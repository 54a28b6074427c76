// Topic names and filters: the input is "filter\0topic" (no NUL: both are the whole input).
// Checks the validators, topic_matches against a simple reference matcher, and
// parse_shared_filter's split.
#include <cstdlib>
#include <string_view>
#include <vector>

#include "protocol/topic.h"

using namespace musqratt::protocol;

namespace {

std::vector<std::string_view> levels(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    size_t e = s.find('/', start);
    out.push_back(s.substr(start, e == s.npos ? s.npos : e - start));
    if (e == s.npos) return out;
    start = e + 1;
  }
}

// Reference matcher for a valid filter and a valid name (MQTT 4.7).
bool reference_match(std::string_view f, std::string_view t) {
  if (t[0] == '$' && (f[0] == '+' || f[0] == '#')) return false;  // [MQTT-4.7.2-1]
  auto fl = levels(f), tl = levels(t);
  for (size_t i = 0; i < fl.size(); ++i) {
    if (fl[i] == "#") return true;  // also matches the parent level
    if (i >= tl.size()) return false;
    if (fl[i] != "+" && fl[i] != tl[i]) return false;
  }
  return fl.size() == tl.size();
}

void require(bool ok) { if (!ok) abort(); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view f = nul == in.npos ? in : in.substr(0, nul);
  std::string_view t = nul == in.npos ? in : in.substr(nul + 1);

  const bool name = valid_topic_name(t), filter = valid_topic_filter(f);
  (void)topic_matches(f, t);  // any input: must not crash
  require(has_wildcard(f) == (f.find_first_of("+#") != f.npos));
  if (name) {
    require(valid_topic_filter(t));  // a name is a filter without wildcards
    require(topic_matches(t, t));
    require(topic_matches("#", t) == (t[0] != '$'));
  }
  if (filter && name) require(topic_matches(f, t) == reference_match(f, t));
  if (filter && !has_wildcard(f) && name) require(topic_matches(f, t) == (f == t));

  auto shared = parse_shared_filter(f);
  require(shared.has_value() == f.starts_with("$share/"));
  if (shared && !shared->group.empty() && !shared->filter.empty()) {
    require(shared->group.find_first_of("+#/") == std::string_view::npos);
    require(f.size() == 7 + shared->group.size() + 1 + shared->filter.size());
    require(f.substr(7, shared->group.size()) == shared->group && f.ends_with(shared->filter));
  }
  return 0;
}
