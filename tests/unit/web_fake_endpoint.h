#pragma once
// A tiny net::Endpoint for testing stream layers: records what reaches it and sends what a
// test gives it.
#include <string>
#include <string_view>

#include "net/endpoint.h"

namespace musqratt::test {

class FakeEndpoint : public net::Endpoint {
 public:
  std::string received;     // bytes from below, all calls together
  size_t bytes_calls = 0;
  std::string output;       // what it wants sent
  size_t output_pos = 0;
  bool echo = false;        // answer every byte received with itself
  bool want_close = false;
  std::string close_why = "fake closes";
  int closed_calls = 0, wakes = 0, ticks = 0, shutdowns = 0;
  std::string identity;
  std::string goodbye;      // appended to output on shutdown

  void on_bytes(std::span<const uint8_t> data, util::TimePoint) override {
    ++bytes_calls;
    received.append(reinterpret_cast<const char*>(data.data()), data.size());
    if (echo) output.append(reinterpret_cast<const char*>(data.data()), data.size());
  }
  std::string_view pending_output() override { return std::string_view(output).substr(output_pos); }
  void consume_output(size_t n, util::TimePoint) override { output_pos += n; }
  bool closing() const override { return want_close; }
  std::string_view close_reason() const override { return want_close ? std::string_view(close_why) : ""; }
  void on_wake(util::TimePoint) override { ++wakes; }
  void on_tick(util::TimePoint) override { ++ticks; }
  void on_shutdown() override {
    ++shutdowns;
    output += goodbye;
    want_close = true;
  }
  void on_closed(util::TimePoint) override { ++closed_calls; }
  void on_peer_identity(std::string name) override { identity = std::move(name); }
};

}  // namespace musqratt::test
