// The logger's destinations and formats: a file reopened in place (logrotate), JSON lines, and
// rate-limited kinds with their "suppressed N" summaries as they reach the file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "util/log.h"

namespace fs = std::filesystem;
using namespace musqratt::util;

namespace {

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

class LogSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("musqratt-log-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    set_log_level(LogLevel::Info);
  }
  void TearDown() override {
    configure_log({});  // back to stderr, closing the file
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

}  // namespace

TEST_F(LogSinkTest, TextLinesGoToTheFile) {
  fs::path f = dir_ / "broker.log";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f}), "");
  LOG_INFO("hello %d", 42);
  LOG_DEBUG("below the level");
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find(" info  hello 42"), std::string::npos) << lines[0];
  EXPECT_EQ(fs::status(f).permissions() & fs::perms::others_all, fs::perms::none);
}

TEST_F(LogSinkTest, AnUnopenableFileKeepsThePreviousSink) {
  fs::path f = dir_ / "good.log";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f}), "");
  std::string err = configure_log({.dest = LogDest::File, .file = dir_ / "missing-dir" / "x.log"});
  EXPECT_NE(err.find("missing-dir"), std::string::npos) << err;
  LOG_WARN("still here");
  EXPECT_EQ(lines_of(f).size(), 1u);
  EXPECT_NE(configure_log({.dest = LogDest::File, .file = {}}), "") << "file without a path";
}

TEST_F(LogSinkTest, ReopenFollowsTheRotatedPath) {
  fs::path f = dir_ / "broker.log";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f}), "");
  LOG_INFO("before rotation");
  fs::rename(f, dir_ / "broker.log.1");  // what logrotate does
  LOG_INFO("after rename, before reopen");
  ASSERT_EQ(reopen_log_file(), "");
  LOG_INFO("after reopen");
  auto old_lines = lines_of(dir_ / "broker.log.1");
  auto new_lines = lines_of(f);
  ASSERT_EQ(old_lines.size(), 2u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_NE(new_lines[0].find("after reopen"), std::string::npos);
}

TEST_F(LogSinkTest, ReopenWhileThreadsLogLosesNoLine) {
  fs::path f = dir_ / "broker.log";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f}), "");
  constexpr int kThreads = 3, kEach = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < kEach; ++i) LOG_INFO("thread %d line %d", t, i);
    });
  for (int r = 0; r < 20; ++r) {
    fs::rename(f, dir_ / ("broker.log." + std::to_string(r)));
    ASSERT_EQ(reopen_log_file(), "");
  }
  for (auto& t : threads) t.join();
  size_t total = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    for (const auto& l : lines_of(e.path())) {
      ASSERT_NE(l.find(" info  thread "), std::string::npos) << "torn line: " << l;
      ++total;
    }
  }
  EXPECT_EQ(total, size_t{kThreads * kEach});
}

TEST_F(LogSinkTest, JsonLinesCarryTimeLevelMessageAndFields) {
  fs::path f = dir_ / "broker.json";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f, .format = LogFormat::Json}), "");
  log_write_fields(LogLevel::Warn, {{"client", "c\"1"}, {"address", "127.0.0.1:5"}}, "quote \" and %s", "\xff bytes");
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 1u);
  auto j = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(j["level"], "warn");
  EXPECT_EQ(j["client"], "c\"1");
  EXPECT_EQ(j["address"], "127.0.0.1:5");
  std::string msg = j["message"];
  EXPECT_EQ(msg.rfind("quote \" and ", 0), 0u);
  std::string when = j["time"];
  EXPECT_EQ(when.size(), 24u) << when;  // 2024-05-01T12:00:00.123Z
  EXPECT_EQ(when.back(), 'Z');
}

TEST_F(LogSinkTest, RateLimitedKindsAreSummarised) {
  fs::path f = dir_ / "broker.json";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f, .format = LogFormat::Json,
                           .rate_per_second = 1, .rate_burst = 3}),
            "");
  uint16_t key = log_limited_key("test.flood");
  const TimePoint t0 = now();
  for (int i = 0; i < 1000; ++i) log_limited_at(key, LogLevel::Warn, t0, "refused connection %d", i);
  EXPECT_EQ(lines_of(f).size(), 3u);
  log_flush_suppressed(t0 + Seconds(5), Seconds(10));
  EXPECT_EQ(lines_of(f).size(), 3u) << "no summary before the interval";
  log_flush_suppressed(t0 + Seconds(10), Seconds(10));
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 4u);
  auto summary = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(summary["kind"], "test.flood");
  EXPECT_EQ(summary["suppressed"], "997");
  EXPECT_EQ(summary["level"], "warn");
  EXPECT_NE(std::string(summary["message"]).find("suppressed 997 similar messages (test.flood)"), std::string::npos);
  // The bucket refilled (3 tokens); a line admitted after a suppression reports it first.
  for (int i = 0; i < 5; ++i) log_limited_at(key, LogLevel::Warn, t0 + Seconds(11), "again %d", i);
  EXPECT_EQ(lines_of(f).size(), 7u);
  log_limited_at(key, LogLevel::Warn, t0 + Seconds(13), "later");
  lines = lines_of(f);
  ASSERT_EQ(lines.size(), 9u);
  EXPECT_EQ(nlohmann::json::parse(lines[7])["suppressed"], "2");
  EXPECT_EQ(nlohmann::json::parse(lines[8])["message"], "later");
}

TEST_F(LogSinkTest, MacroSkipsLinesUnderTheLevel) {
  fs::path f = dir_ / "broker.log";
  ASSERT_EQ(configure_log({.dest = LogDest::File, .file = f, .rate_per_second = 1, .rate_burst = 1}), "");
  set_log_level(LogLevel::Error);
  for (int i = 0; i < 10; ++i) LOG_WARN_LIMITED("test.level", "not written %d", i);
  set_log_level(LogLevel::Info);
  LOG_WARN_LIMITED("test.level", "written");
  auto lines = lines_of(f);
  ASSERT_EQ(lines.size(), 1u) << "lines under the level are neither written nor counted";
  EXPECT_NE(lines[0].find("written"), std::string::npos);
}

TEST(LogOptionsParse, NamesAreTheConfigurationValues) {
  LogDest d;
  LogFormat f;
  EXPECT_TRUE(parse_log_dest("syslog", d));
  EXPECT_EQ(d, LogDest::Syslog);
  EXPECT_FALSE(parse_log_dest("journal", d));
  EXPECT_TRUE(parse_log_format("json", f));
  EXPECT_EQ(f, LogFormat::Json);
  EXPECT_FALSE(parse_log_format("xml", f));
}
