// The MQTT topic <-> NATS subject mapping (src/cluster/subject_map.h): the escaping table,
// reversibility, and a brute-force check that NATS matching of the mapped subjects agrees
// with MusQraTT's own topic matcher on every pair of small topics and filters.
#include "cluster/subject_map.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "protocol/topic.h"

namespace musqratt::cluster {
namespace {

TEST(ClusterSubjectMap, EscapesWhatNatsTreatsSpecially) {
  struct Case {
    const char* topic;
    const char* subject;
  } cases[] = {
      {"a", "t.a"},
      {"a/b/c", "t.a.b.c"},
      {"a.b", "t.a%2Eb"},                  // '.' separates NATS tokens
      {"a b", "t.a%20b"},                  // whitespace ends a NATS subject
      {"*", "t.%2A"},                      // NATS wildcards as literal levels
      {">", "t.%3E"},
      {"a/*/>", "t.a.%2A.%3E"},
      {"100%", "t.100%25"},                // the escape character itself
      {"/", "t.%.%"},                      // empty levels
      {"/a", "t.%.a"},
      {"a//b", "t.a.%.b"},
      {"a/", "t.a.%"},
      {"$SYS/broker", "d.$SYS.broker"},    // leading '$': its own class
      {"a/$b", "t.a.$b"},                  // '$' elsewhere is plain
      {"caf\xC3\xA9", "t.caf%C3%A9"},      // non-ASCII bytes
      {"tab\there", "t.tab%09here"},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(topic_to_subject(c.topic), c.subject) << c.topic;
    auto back = subject_to_topic(c.subject);
    ASSERT_TRUE(back.has_value()) << c.subject;
    EXPECT_EQ(*back, c.topic);
  }
}

TEST(ClusterSubjectMap, FiltersMapToWildcardsAndHashAddsTheParent) {
  using V = std::vector<std::string>;
  EXPECT_EQ(filter_to_subjects("a/b"), V{"t.a.b"});
  EXPECT_EQ(filter_to_subjects("a/+"), V{"t.a.*"});
  EXPECT_EQ(filter_to_subjects("+"), V{"t.*"});
  EXPECT_EQ(filter_to_subjects("#"), V{"t.>"});
  EXPECT_EQ(filter_to_subjects("a/#"), (V{"t.a", "t.a.>"}));
  EXPECT_EQ(filter_to_subjects("+/#"), (V{"t.*", "t.*.>"}));
  EXPECT_EQ(filter_to_subjects("$SYS/#"), (V{"d.$SYS", "d.$SYS.>"}));
  EXPECT_EQ(filter_to_subjects("+/+/x"), V{"t.*.*.x"});
  EXPECT_EQ(filter_to_subjects("/#"), (V{"t.%", "t.%.>"}));
  EXPECT_EQ(filter_to_subjects("a.b/+"), V{"t.a%2Eb.*"});
  for (const char* f : {"a/b", "a/+", "+", "#", "a/#", "+/#", "$SYS/#", "/#", "a//+"}) {
    for (const std::string& s : filter_to_subjects(f)) {
      auto back = subject_to_filter(s);
      ASSERT_TRUE(back.has_value()) << s;
      // The parent subject of "x/#" reads back as "x", the other as the filter itself.
      std::string want = f;
      if (want.ends_with("/#") && s.find('>') == std::string::npos) want.resize(want.size() - 2);
      EXPECT_EQ(*back, want) << s;
    }
  }
}

TEST(ClusterSubjectMap, RefusesSubjectsItNeverMakes) {
  for (const char* s : {"", "t", "t.", "x.a", "t..a", "t.a.", "t.%4", "t.%2a", "t.%41", "t.%G0", "t.*", "t.>",
                        "d.a", "t.$a", "T.a", "t a", "t.a/b", "t.+", "t.#", "t.a+"}) {
    EXPECT_FALSE(subject_to_topic(s).has_value()) << s;
  }
  for (const char* s : {"t.>.a", "d.*", "d.>", "t.a>", "t.%"}) {
    auto f = subject_to_filter(s);
    if (std::string_view(s) == "t.%") {
      EXPECT_EQ(f, std::optional<std::string>(""));  // an empty level: the filter "" (never valid, but exact)
    } else if (std::string_view(s) == "t.a>") {
      EXPECT_FALSE(f.has_value());  // '>' inside a token is never produced
    } else {
      EXPECT_FALSE(f.has_value()) << s;
    }
  }
}

TEST(ClusterSubjectMap, NatsMatcher) {
  EXPECT_TRUE(subject_matches("t.a", "t.a"));
  EXPECT_FALSE(subject_matches("t.a", "t.a.b"));
  EXPECT_TRUE(subject_matches("t.*", "t.a"));
  EXPECT_FALSE(subject_matches("t.*", "t.a.b"));
  EXPECT_TRUE(subject_matches("t.>", "t.a.b"));
  EXPECT_FALSE(subject_matches("t.a.>", "t.a"));  // '>' needs at least one token
  EXPECT_TRUE(subject_matches("t.a.>", "t.a.%"));
  EXPECT_FALSE(subject_matches("t.>", "d.$SYS.x"));
}

// Every level the generator draws from: NATS-special characters, empty, '$', non-ASCII.
const std::vector<std::string> kLevels = {"", "a", "b", "$x", ".", "*", ">", " ", "\xC3\xA9", "%", "a.b"};

std::vector<std::string> all_topics(size_t max_levels) {
  std::vector<std::string> out, layer{""};
  for (size_t n = 1; n <= max_levels; ++n) {
    std::vector<std::string> next;
    for (const auto& prefix : layer)
      for (const auto& l : kLevels) next.push_back(n == 1 ? l : prefix + "/" + l);
    for (const auto& t : next)
      if (protocol::valid_topic_name(t)) out.push_back(t);
    layer = std::move(next);
  }
  return out;
}

std::vector<std::string> all_filters(size_t max_levels) {
  std::vector<std::string> levels = kLevels;
  levels.push_back("+");
  std::vector<std::string> out, layer{""};
  for (size_t n = 1; n <= max_levels; ++n) {
    std::vector<std::string> next;
    for (const auto& prefix : layer)
      for (const auto& l : levels) next.push_back(n == 1 ? l : prefix + "/" + l);
    for (const auto& f : next) {
      if (protocol::valid_topic_filter(f)) out.push_back(f);
      std::string multi = f + "/#";
      if (protocol::valid_topic_filter(multi)) out.push_back(multi);
    }
    layer = std::move(next);
  }
  out.push_back("#");
  return out;
}

bool nats_match(const std::string& filter, const std::string& subject) {
  for (const std::string& s : filter_to_subjects(filter))
    if (subject_matches(s, subject)) return true;
  return false;
}

TEST(ClusterSubjectMap, BruteForceAgreesWithTheMqttMatcher) {
  const auto topics = all_topics(3);
  const auto filters = all_filters(3);
  ASSERT_GT(topics.size(), 1000u);
  ASSERT_GT(filters.size(), 1500u);
  std::set<std::string> subjects;
  for (const auto& t : topics) {
    std::string s = topic_to_subject(t);
    ASSERT_TRUE(subjects.insert(s).second) << "two topics map to " << s;  // injective
    ASSERT_EQ(subject_to_topic(s), std::optional<std::string>(t));
  }
  size_t checked = 0, matched = 0;
  for (const auto& f : filters) {
    for (const auto& t : topics) {
      bool want = protocol::topic_matches(f, t);
      ASSERT_EQ(nats_match(f, topic_to_subject(t)), want) << "filter '" << f << "' topic '" << t << "'";
      ++checked;
      matched += want;
    }
  }
  EXPECT_GT(checked, 5000000u);
  EXPECT_GT(matched, 20000u);  // the sample is not trivially all-false
}

TEST(ClusterSubjectMap, RandomLongTopicsAgreeToo) {
  std::mt19937 rng(12);
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  for (int i = 0; i < 20000; ++i) {
    size_t n = 1 + pick(7);
    std::string t, f;
    for (size_t k = 0; k < n; ++k) {
      const std::string& l = kLevels[pick(kLevels.size())];
      t += (k ? "/" : "") + l;
      size_t r = pick(5);
      f += (k ? "/" : "") + (r == 0 ? std::string("+") : r == 1 ? kLevels[pick(kLevels.size())] : l);
    }
    if (pick(3) == 0) {
      size_t cut = f.rfind('/');
      f = (cut == std::string::npos ? std::string() : f.substr(0, cut + 1)) + "#";
    }
    if (!protocol::valid_topic_name(t) || !protocol::valid_topic_filter(f)) continue;
    ASSERT_EQ(nats_match(f, topic_to_subject(t)), protocol::topic_matches(f, t)) << f << " / " << t;
    ASSERT_EQ(subject_to_topic(topic_to_subject(t)), std::optional<std::string>(t));
  }
}

TEST(ClusterSubjectMap, FiltersOverlapExactlyWhenATopicMatchesBoth) {
  EXPECT_TRUE(filters_overlap("a/+", "a/b"));
  EXPECT_TRUE(filters_overlap("a/#", "a"));
  EXPECT_TRUE(filters_overlap("+/b", "a/+"));
  EXPECT_FALSE(filters_overlap("a/b", "a/c"));
  EXPECT_FALSE(filters_overlap("a/+", "a"));
  EXPECT_FALSE(filters_overlap("#", "$SYS/x"));
  EXPECT_TRUE(filters_overlap("$SYS/#", "$SYS/x"));
  // Brute force: for every pair of small filters, overlap iff some topic of the sample (one
  // level deeper than either) matches both.
  const auto filters = all_filters(2);
  const auto topics = all_topics(3);
  size_t pairs = 0, overlapping = 0;
  for (size_t i = 0; i < filters.size(); i += 2) {
    for (size_t j = 0; j < filters.size(); j += 3) {
      const auto& a = filters[i];
      const auto& b = filters[j];
      bool want = false;
      for (const auto& t : topics) {
        if (protocol::topic_matches(a, t) && protocol::topic_matches(b, t)) {
          want = true;
          break;
        }
      }
      ASSERT_EQ(filters_overlap(a, b), want) << a << " / " << b;
      ++pairs;
      overlapping += want;
    }
  }
  EXPECT_GT(pairs, 15000u);
  EXPECT_GT(overlapping, 1000u);
}

TEST(ClusterSubjectMap, TokensAndKeys) {
  EXPECT_EQ(escape_token("group one"), "group%20one");
  EXPECT_EQ(escape_token(""), "%");
  EXPECT_EQ(escape_token("a.b*c>"), "a%2Eb%2Ac%3E");
  EXPECT_EQ(hex_key("ab\xff"), "6162ff");
  EXPECT_EQ(unhex_key("6162ff"), std::optional<std::string>("ab\xff"));
  EXPECT_FALSE(unhex_key("616").has_value());
  EXPECT_FALSE(unhex_key("6G").has_value());
}

}  // namespace
}  // namespace musqratt::cluster
