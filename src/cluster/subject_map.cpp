#include "cluster/subject_map.h"

namespace musqratt::cluster {

namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool verbatim(unsigned char c) { return c > 0x20 && c < 0x7F && c != '.' && c != '*' && c != '>' && c != '%'; }

void append_level(std::string& out, std::string_view level) {
  if (level.empty()) {
    out.push_back('%');
    return;
  }
  for (unsigned char c : level) {
    if (verbatim(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;  // lower case is never produced, so it is refused: one spelling per topic
}

/// Decodes one token into `out`; false if it is not a token append_level makes.
bool decode_level(std::string_view token, std::string& out) {
  if (token == "%") return true;  // empty level
  if (token.empty()) return false;
  for (size_t i = 0; i < token.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(token[i]);
    if (c != '%') {
      // '/' separates levels and '+' '#' are wildcards: none is ever inside a level's token.
      if (!verbatim(c) || c == '/' || c == '+' || c == '#') return false;
      out.push_back(static_cast<char>(c));
      continue;
    }
    if (i + 2 >= token.size()) return false;
    int hi = hex_value(token[i + 1]), lo = hex_value(token[i + 2]);
    if (hi < 0 || lo < 0) return false;
    unsigned char b = static_cast<unsigned char>(hi << 4 | lo);
    if (verbatim(b)) return false;  // would have been written as itself
    out.push_back(static_cast<char>(b));
    i += 2;
  }
  return true;
}

char class_of(std::string_view first_level) { return !first_level.empty() && first_level[0] == '$' ? 'd' : 't'; }

template <class F>
void for_each_level(std::string_view s, F&& f) {
  size_t start = 0;
  while (true) {
    size_t e = s.find('/', start);
    if (e == std::string_view::npos) {
      f(s.substr(start));
      return;
    }
    f(s.substr(start, e - start));
    start = e + 1;
  }
}

std::optional<std::string> subject_to(std::string_view subject, bool wildcards) {
  if (subject.size() < 3 || (subject[0] != 't' && subject[0] != 'd') || subject[1] != '.') return std::nullopt;
  const bool dollar = subject[0] == 'd';
  std::string out;
  size_t start = 2;
  bool first = true;
  while (true) {
    size_t e = subject.find('.', start);
    std::string_view token = subject.substr(start, e == std::string_view::npos ? std::string_view::npos : e - start);
    bool last = e == std::string_view::npos;
    if (!first) out.push_back('/');
    if (wildcards && token == "*") {
      if (first && dollar) return std::nullopt;  // never made: a leading wildcard is class t
      out.push_back('+');
    } else if (wildcards && token == ">") {
      if (!last || (first && dollar)) return std::nullopt;
      out.push_back('#');
    } else {
      size_t before = out.size();
      if (!decode_level(token, out)) return std::nullopt;
      // The class must agree with the first level, or two subjects would name one topic.
      if (first && dollar != (out.size() > before && out[before] == '$')) return std::nullopt;
    }
    first = false;
    if (last) return out;
    start = e + 1;
  }
}

}  // namespace

void append_topic_subject(std::string& out, std::string_view topic) {
  out.reserve(out.size() + topic.size() + 4);
  std::string_view first = topic.substr(0, topic.find('/'));
  out.push_back(class_of(first));
  for_each_level(topic, [&](std::string_view level) {
    out.push_back('.');
    append_level(out, level);
  });
}

std::string topic_to_subject(std::string_view topic) {
  std::string out;
  append_topic_subject(out, topic);
  return out;
}

std::vector<std::string> filter_to_subjects(std::string_view filter) {
  std::string_view first = filter.substr(0, filter.find('/'));
  // A leading wildcard never matches a '$' topic [MQTT-4.7.2-1]: class t.
  char cls = (first == "+" || first == "#") ? 't' : class_of(first);
  std::string s(1, cls);
  std::vector<std::string> out;
  bool multi = false;
  for_each_level(filter, [&](std::string_view level) {
    if (level == "#") {
      multi = true;
      return;
    }
    s.push_back('.');
    if (level == "+") s.push_back('*');
    else append_level(s, level);
  });
  if (!multi) {
    out.push_back(std::move(s));
  } else if (s.size() == 1) {
    out.push_back(s + ".>");  // "#" alone: every topic of class t
  } else {
    out.push_back(s);  // "a/#" also matches "a" [MQTT-4.7.1-2]
    out.push_back(s + ".>");
  }
  return out;
}

std::optional<std::string> subject_to_topic(std::string_view subject) { return subject_to(subject, false); }
std::optional<std::string> subject_to_filter(std::string_view subject) { return subject_to(subject, true); }

bool subject_matches(std::string_view pattern, std::string_view subject) {
  size_t pi = 0, si = 0;
  while (true) {
    size_t pe = pattern.find('.', pi);
    size_t se = subject.find('.', si);
    std::string_view p = pattern.substr(pi, pe == std::string_view::npos ? std::string_view::npos : pe - pi);
    std::string_view s = subject.substr(si, se == std::string_view::npos ? std::string_view::npos : se - si);
    if (p == ">" && pe == std::string_view::npos) return true;  // one or more tokens remain
    if (p != "*" && p != s) return false;
    bool p_last = pe == std::string_view::npos, s_last = se == std::string_view::npos;
    if (p_last || s_last) return p_last && s_last;
    pi = pe + 1;
    si = se + 1;
  }
}

bool filters_overlap(std::string_view a, std::string_view b) {
  std::vector<std::string_view> la, lb;
  for_each_level(a, [&](std::string_view l) { la.push_back(l); });
  for_each_level(b, [&](std::string_view l) { lb.push_back(l); });
  auto wild = [](std::string_view l) { return l == "+" || l == "#"; };
  // A leading wildcard never matches a topic starting with '$' [MQTT-4.7.2-1].
  if ((wild(la[0]) && lb[0].starts_with('$')) || (wild(lb[0]) && la[0].starts_with('$'))) return false;
  for (size_t i = 0;; ++i) {
    bool a_end = i == la.size(), b_end = i == lb.size();
    if ((!a_end && la[i] == "#") || (!b_end && lb[i] == "#")) {
      // "x/#" matches "x" too; but when the other filter ends here, that parent is the topic,
      // and a topic of one empty level is no topic at all.
      bool forced_empty = i == 1 && (la[0].empty() || lb[0].empty());
      return !((a_end || b_end) && forced_empty);
    }
    if (a_end || b_end) return a_end && b_end;
    if (la[i] != "+" && lb[i] != "+" && la[i] != lb[i]) return false;
  }
}

std::string escape_token(std::string_view text) {
  std::string out;
  append_level(out, text);
  return out;
}

std::string hex_key(std::string_view text) {
  static constexpr char lower[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size() * 2);
  for (unsigned char c : text) {
    out.push_back(lower[c >> 4]);
    out.push_back(lower[c & 15]);
  }
  return out;
}

std::optional<std::string> unhex_key(std::string_view key) {
  if (key.size() % 2) return std::nullopt;
  auto v = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < key.size(); i += 2) {
    int hi = v(key[i]), lo = v(key[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

}  // namespace musqratt::cluster
