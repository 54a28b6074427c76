#pragma once
// The HandlerTest fixture: a Broker, a recording Waker and any number of SessionDrivers
// driven as clients, shared by the session_driver_*_test.cpp files.
#include <gtest/gtest.h>

#include <memory>
#include <optional>

#include "protocol/publish_encoder.h"
#include "test_support.h"

namespace musqratt::test {

using broker::Broker;
using broker::BrokerConfig;
using pr::PacketType;
using pr::Reason;
using pr::Version;
using namespace std::chrono_literals;

inline const util::TimePoint T0 = util::TimePoint{} + 1000h;

template <typename T>
const T* at(const std::vector<pr::Packet>& v, size_t i) {
  return i < v.size() ? std::get_if<T>(&v[i]) : nullptr;
}

/// A 5.0 PUBLISH with a topic alias (encode_packet drops the alias, so use PublishView).
inline std::string publish_with_alias(std::string_view topic, std::string_view payload, uint16_t alias,
                               uint8_t qos = 0, uint16_t id = 0) {
  pr::PublishView v;
  v.topic = topic;
  v.payload = payload;
  v.qos = qos;
  v.packet_id = id;
  v.topic_alias = alias;
  std::string out;
  pr::encode_publish(v, Version::V5, out);
  return out;
}

inline pr::Connect connect_with_will(Version v, const std::string& id) {
  auto c = make_connect(v, id);
  c.will = pr::Will{"will/" + id, "gone", 0, false, {}};
  return c;
}

class HandlerTest : public ::testing::Test {
 protected:
  void start(BrokerConfig c = {}) {
    c.sys_interval = 0;
    broker = std::make_unique<Broker>(std::move(c));
  }

  TestClient& client(Version v, util::TimePoint now = T0) {
    if (!broker) start();
    clients.push_back(std::make_unique<TestClient>(*broker, waker, next_token++, v, now));
    return *clients.back();
  }

  /// Connects and checks the CONNACK; returns the client.
  TestClient& connect(Version v, const std::string& id, bool clean = true, std::optional<uint32_t> expiry = {},
                      util::TimePoint now = T0, bool expect_present = false) {
    TestClient& c = client(v, now);
    auto conn = make_connect(v, id, clean);
    if (expiry) conn.properties.session_expiry_interval = *expiry;
    c.send(conn, now);
    auto out = c.take();
    EXPECT_GE(out.size(), 1u);
    auto* ack = at<pr::Connack>(out, 0);
    EXPECT_NE(ack, nullptr);
    if (ack) {
      EXPECT_EQ(ack->reason, Reason::Success);
      EXPECT_EQ(ack->session_present, expect_present);
    }
    EXPECT_TRUE(c.handler.connected());
    return c;
  }

  void subscribe(TestClient& c, const std::string& filter, uint8_t qos, util::TimePoint now = T0) {
    c.send(make_subscribe(next_packet_id++, filter, qos), now);
    auto out = c.take();
    ASSERT_GE(out.size(), 1u);
    auto* ack = at<pr::Suback>(out, 0);
    ASSERT_NE(ack, nullptr);
    ASSERT_EQ(ack->reasons, std::vector<Reason>{static_cast<Reason>(qos)});
    ASSERT_EQ(out.size(), 1u) << "unexpected packets after SUBACK";
  }

  uint64_t token_of(const TestClient& c) const {
    for (size_t i = 0; i < clients.size(); ++i)
      if (clients[i].get() == &c) return i + 1;
    return 0;
  }

  std::unique_ptr<Broker> broker;
  RecordingWaker waker;
  std::vector<std::unique_ptr<TestClient>> clients;  // destroyed before the broker
  uint64_t next_token = 1;
  uint16_t next_packet_id = 1;
};

}  // namespace musqratt::test
