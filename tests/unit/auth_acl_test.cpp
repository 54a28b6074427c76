// ACL files in Mosquitto's syntax: per-user sections, patterns with %u/%c, `topic deny`.
#include "auth/acl.h"

#include <gtest/gtest.h>

using namespace musqratt::auth;

namespace {

Identity user(std::string name, std::string client = "c1") { return {std::move(name), std::move(client), false}; }
Identity anon(std::string client = "c1") { return {"", std::move(client), true}; }

Acl parse(const std::string& text) {
  auto a = Acl::parse(text, "acl");
  EXPECT_TRUE(a) << a.error();
  return a ? *a : *Acl::parse("", "empty");
}

}  // namespace

TEST(Acl, MosquittoExampleFileReadsAsMosquittoDoes) {
  // /usr/share/doc/mosquitto/examples/aclfile.example of Debian's mosquitto 2.0.11.
  Acl a = parse("# This affects access control for clients with no username.\n"
                "topic read $SYS/#\n\n"
                "# This only affects clients with username \"roger\".\n"
                "user roger\n"
                "topic foo/bar\n\n"
                "# This affects all clients.\n"
                "pattern write $SYS/broker/connection/%c/state\n");
  EXPECT_TRUE(a.can_subscribe(anon(), "$SYS/#"));
  EXPECT_FALSE(a.can_publish(anon(), "$SYS/x"));
  EXPECT_FALSE(a.can_subscribe(user("roger"), "$SYS/#"));
  EXPECT_TRUE(a.can_publish(user("roger"), "foo/bar"));
  EXPECT_TRUE(a.can_subscribe(user("roger"), "foo/bar"));
  EXPECT_TRUE(a.can_publish(user("roger", "bridge1"), "$SYS/broker/connection/bridge1/state"));
  EXPECT_FALSE(a.can_publish(user("roger", "bridge1"), "$SYS/broker/connection/other/state"));
  EXPECT_FALSE(a.can_publish(user("roger"), "foo/baz"));
}

TEST(Acl, DenyWinsWhereverItStands) {
  for (const char* text : {"user alice\ntopic readwrite house/#\ntopic deny house/safe/#\n",
                           "user alice\ntopic deny house/safe/#\ntopic readwrite house/#\n"}) {
    Acl a = parse(text);
    EXPECT_TRUE(a.can_publish(user("alice"), "house/kitchen")) << text;
    EXPECT_FALSE(a.can_publish(user("alice"), "house/safe/code")) << text;
    EXPECT_FALSE(a.can_receive(user("alice"), "house/safe/code")) << text;
    EXPECT_FALSE(a.can_subscribe(user("alice"), "house/safe/#")) << text;
    EXPECT_FALSE(a.can_subscribe(user("alice"), "house/safe/+")) << text;
    // A wider subscription stands; the denied topics are filtered per message.
    EXPECT_TRUE(a.can_subscribe(user("alice"), "house/#")) << text;
  }
}

TEST(Acl, DenyPatternsApplyToEveryone) {
  Acl a = parse("pattern readwrite #\npattern deny private/%u/#\n");
  EXPECT_FALSE(a.can_publish(user("bob"), "private/bob/x"));
  EXPECT_TRUE(a.can_publish(user("bob"), "private/alice/x"));
  EXPECT_TRUE(a.can_publish(anon(), "private/alice/x"));
}

TEST(Acl, PatternsSubstituteUserAndClient) {
  Acl a = parse("pattern readwrite users/%u/#\npattern read devices/%c/config\n");
  EXPECT_TRUE(a.can_publish(user("alice"), "users/alice/x"));
  EXPECT_FALSE(a.can_publish(user("alice"), "users/bob/x"));
  EXPECT_TRUE(a.can_subscribe(user("alice", "dev7"), "devices/dev7/config"));
  EXPECT_FALSE(a.can_publish(user("alice", "dev7"), "devices/dev7/config"));
  EXPECT_FALSE(a.can_publish(anon(), "users//x")) << "an anonymous client has no %u";
}

TEST(Acl, WildcardsInNamesNeverWidenAPattern) {
  Acl a = parse("pattern readwrite users/%u/#\npattern read devices/%c/#\npattern deny secret/%c\n");
  EXPECT_FALSE(a.can_publish(user("+"), "users/alice/x"));
  EXPECT_FALSE(a.can_publish(user("#"), "users/alice/x"));
  EXPECT_FALSE(a.can_subscribe(user("bob", "+"), "devices/other/#"));
  EXPECT_FALSE(a.can_publish(user("bob", "#"), "users/bob/x")) << "a deny pattern cannot be read: refuse";
  EXPECT_TRUE(a.can_publish(user("bob", "dev1"), "users/bob/x"));
}

TEST(Acl, AccessWordsAndDefaults) {
  Acl a = parse("user u\ntopic read r/#\ntopic write w/#\ntopic rw/#\ntopic readwrite b/#\n");
  EXPECT_TRUE(a.can_subscribe(user("u"), "r/x"));
  EXPECT_FALSE(a.can_publish(user("u"), "r/x"));
  EXPECT_TRUE(a.can_publish(user("u"), "w/x"));
  EXPECT_FALSE(a.can_subscribe(user("u"), "w/x"));
  EXPECT_TRUE(a.can_publish(user("u"), "rw/x"));
  EXPECT_TRUE(a.can_subscribe(user("u"), "rw/x"));
  EXPECT_TRUE(a.can_receive(user("u"), "b/x"));
  EXPECT_FALSE(a.can_publish(user("v"), "b/x")) << "another user";
}

TEST(Acl, SubscriptionsMustBeCoveredEntirely) {
  Acl a = parse("user u\ntopic read a/+/c\ntopic read d/#\n");
  EXPECT_TRUE(a.can_subscribe(user("u"), "a/b/c"));
  EXPECT_TRUE(a.can_subscribe(user("u"), "a/+/c"));
  EXPECT_FALSE(a.can_subscribe(user("u"), "a/#"));
  EXPECT_TRUE(a.can_subscribe(user("u"), "d/#"));
  EXPECT_TRUE(a.can_subscribe(user("u"), "d/+/x"));
}

TEST(Acl, UserNamesMayHoldSpacesAndFilesCrlf) {
  Acl a = parse("user John Smith\r\ntopic read news/#\r\n");
  EXPECT_TRUE(a.can_subscribe(user("John Smith"), "news/#"));
}

TEST(Acl, ErrorsNameFileAndLine) {
  auto a = Acl::parse("user x\ntopic sometimes a/b\n", "/etc/acl");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error(), "/etc/acl:2: access must be read, write, readwrite or deny");
  auto b = Acl::parse("\n\nfrobnicate\n", "f");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error(), "f:3: unknown directive 'frobnicate'");
  auto c = Acl::parse("topic deny a/#/b\n", "f");
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().find("invalid topic filter"), std::string::npos);
  EXPECT_FALSE(Acl::parse("topic deny\n", "f"));
}
