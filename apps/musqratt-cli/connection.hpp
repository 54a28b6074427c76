#pragma once
// One MQTT client session over libmosquitto, with blocking request/acknowledgement calls.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "output.hpp"

struct mosquitto;
struct mosquitto_message;
struct mqtt5__property;

namespace musqratt::cli {

/// What `connect` (shell) or the one-shot flags ask for.
struct ConnectOptions {
  std::string client_id;  // empty: let the broker assign one (needs a clean start)
  std::string host = "127.0.0.1";
  int port = 1883;
  int version = 5;  // 4 = MQTT 3.1.1, 5 = MQTT 5.0
  int keepalive = 60;
  std::optional<std::uint32_t> session_expiry;  // 5.0 only
  bool clean = true;
  std::optional<std::string> user;
  std::optional<std::string> password;
};

/// Drives one libmosquitto client on its own network thread and turns its callbacks into
/// blocking calls that return the broker's acknowledgement (CONNACK, SUBACK, PUBACK/PUBCOMP,
/// UNSUBACK), because shell commands and scripts need "wait, then report" semantics.
/// We run our own mosquitto_loop() thread rather than mosquitto_loop_start() so a lost or
/// refused connection ends the thread instead of silently reconnecting.
class Connection {
 public:
  using MessageHandler = std::function<void(Message&&)>;
  using Seconds = std::chrono::duration<double>;

  Connection(std::string name, ConnectOptions options, MessageHandler on_message);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// TCP connect, CONNECT, wait for CONNACK. Returns "session present" or an error line.
  std::expected<bool, std::string> connect(Seconds timeout);
  /// SUBSCRIBE and wait for SUBACK. Returns the granted QoS or an error line.
  std::expected<int, std::string> subscribe(const std::string& filter, int qos, Seconds timeout);
  /// UNSUBSCRIBE and wait for UNSUBACK.
  std::expected<void, std::string> unsubscribe(const std::string& filter, Seconds timeout);
  /// Outcome of an acknowledged publish: packet id (0 at QoS 0) and the broker's
  /// non-error reason code (MQTT 5.0, e.g. 0x10 "no matching subscribers"), else 0.
  struct Published {
    int packet_id = 0;
    int reason = 0;
  };
  /// PUBLISH; at QoS 1/2 waits for PUBACK/PUBCOMP and fails on reason codes >= 0x80.
  std::expected<Published, std::string> publish(const std::string& topic, const std::string& payload,
                                          int qos, bool retain,
                                          std::optional<std::uint32_t> expiry, Seconds timeout);
  /// Sends DISCONNECT (if connected) and stops the network thread.
  void disconnect();

  bool connected() const;
  const std::string& name() const { return name_; }
  const ConnectOptions& options() const { return options_; }

 private:
  struct Ack {
    int reason = 0;  // 0 or the reason/granted code of the acknowledgement
  };

  void run_loop();
  void stop_thread();
  /// Waits until `mid` is acknowledged, the connection drops or the timeout passes.
  std::expected<Ack, std::string> wait_ack(int mid, Seconds timeout, const char* what);

  static void on_connect(mosquitto*, void* self, int rc, int flags, const mqtt5__property*);
  static void on_disconnect(mosquitto*, void* self, int rc, const mqtt5__property*);
  static void on_publish(mosquitto*, void* self, int mid, int reason, const mqtt5__property*);
  static void on_subscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                           const mqtt5__property*);
  static void on_unsubscribe(mosquitto*, void* self, int mid, const mqtt5__property*);
  static void on_message(mosquitto*, void* self, const mosquitto_message* msg,
                         const mqtt5__property*);

  void complete(int mid, int reason);

  const std::string name_;
  const ConnectOptions options_;
  const MessageHandler on_message_;
  mosquitto* mosq_ = nullptr;
  std::thread thread_;
  bool stop_requested_ = false;  // guarded by mutex_

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool connack_received_ = false;
  int connack_code_ = 0;
  bool session_present_ = false;
  bool connected_ = false;
  bool socket_open_ = false;
  bool user_disconnect_ = false;
  std::map<int, Ack> acks_;     // acknowledgements not yet collected, by packet id
  std::set<int> ignored_mids_;  // QoS 0 publishes nobody waits for
};

}  // namespace musqratt::cli
