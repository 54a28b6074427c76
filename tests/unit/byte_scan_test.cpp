// The word-at-a-time topic checks (protocol/byte_scan.h) against the plain definition, with the
// byte in question at every position of every length up to three words, so the word loop and the
// tail loop both see it.
#include <gtest/gtest.h>

#include <string>

#include "protocol/topic.h"
#include "protocol/utf8.h"

namespace musqratt::protocol {
namespace {

TEST(ByteScan, WildcardFoundAtEveryPosition) {
  for (size_t len = 1; len <= 24; ++len) {
    std::string plain(len, 'a');
    EXPECT_TRUE(valid_topic_name(plain)) << len;
    for (size_t at = 0; at < len; ++at) {
      for (char c : {'+', '#'}) {
        std::string t = plain;
        t[at] = c;
        EXPECT_FALSE(valid_topic_name(t)) << len << " " << at << " " << c;
        EXPECT_TRUE(has_wildcard(t));
      }
      // Neighbours of the wildcards in the byte table, and bytes whose subtraction borrows.
      for (char c : {'*', ',', '"', '$', '\x01', '\x7f', '/'}) {
        std::string t = plain;
        t[at] = c;
        EXPECT_TRUE(valid_topic_name(t)) << len << " " << at << " " << int(c);
      }
    }
  }
}

TEST(ByteScan, Utf8NulAndMalformedFoundAtEveryPosition) {
  for (size_t len = 1; len <= 24; ++len) {
    std::string plain(len, 'b');
    EXPECT_TRUE(valid_mqtt_utf8(plain));
    for (size_t at = 0; at < len; ++at) {
      std::string nul = plain;
      nul[at] = '\0';
      EXPECT_FALSE(valid_mqtt_utf8(nul)) << len << " " << at;
      std::string lone = plain;
      lone[at] = '\x80';  // a continuation byte with no lead
      EXPECT_FALSE(valid_mqtt_utf8(lone)) << len << " " << at;
      std::string two = plain;
      two[at] = '\xff';
      EXPECT_FALSE(valid_mqtt_utf8(two)) << len << " " << at;
      if (at + 1 < len) {
        std::string e_acute = plain;  // U+00E9, well formed
        e_acute[at] = '\xc3';
        e_acute[at + 1] = '\xa9';
        EXPECT_TRUE(valid_mqtt_utf8(e_acute)) << len << " " << at;
        if (at + 2 < len) {  // a NUL after the multibyte character, where the bytewise loop looks
          e_acute[len - 1] = '\0';
          EXPECT_FALSE(valid_mqtt_utf8(e_acute)) << len << " " << at;
        }
      }
    }
  }
}

}  // namespace
}  // namespace musqratt::protocol
