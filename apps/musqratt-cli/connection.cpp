#include "connection.hpp"

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "strformat.hpp"

#include "reason.hpp"

namespace musqratt::cli {
namespace {

/// Frees a libmosquitto property list when it goes out of scope.
struct PropertyList {
  mosquitto_property* head = nullptr;
  ~PropertyList() { mosquitto_property_free_all(&head); }
};

}  // namespace

Connection::Connection(std::string name, ConnectOptions options, MessageHandler on_message)
    : name_(std::move(name)), options_(std::move(options)), on_message_(std::move(on_message)) {}

Connection::~Connection() {
  disconnect();
  if (mosq_) mosquitto_destroy(mosq_);
}

bool Connection::connected() const {
  std::lock_guard lock(mutex_);
  return connected_;
}

std::expected<bool, std::string> Connection::connect(Seconds timeout) {
  if (mosq_) return std::unexpected("connection object already used");
  if (options_.client_id.empty() && !options_.clean)
    return std::unexpected("resuming a session needs a client id");
  mosq_ = mosquitto_new(options_.client_id.empty() ? nullptr : options_.client_id.c_str(),
                        options_.clean, this);
  if (!mosq_) return std::unexpected("cannot create MQTT client: out of memory");
  mosquitto_int_option(mosq_, MOSQ_OPT_PROTOCOL_VERSION,
                       options_.version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
  mosquitto_threaded_set(mosq_, true);
  mosquitto_connect_v5_callback_set(mosq_, &Connection::on_connect);
  mosquitto_disconnect_v5_callback_set(mosq_, &Connection::on_disconnect);
  mosquitto_publish_v5_callback_set(mosq_, &Connection::on_publish);
  mosquitto_subscribe_v5_callback_set(mosq_, &Connection::on_subscribe);
  mosquitto_unsubscribe_v5_callback_set(mosq_, &Connection::on_unsubscribe);
  mosquitto_message_v5_callback_set(mosq_, &Connection::on_message);
  if (options_.user || options_.password) {
    int rc = mosquitto_username_pw_set(mosq_, options_.user ? options_.user->c_str() : nullptr,
                                       options_.password ? options_.password->c_str() : nullptr);
    if (rc != MOSQ_ERR_SUCCESS)
      return std::unexpected(strformat("bad user name or password: {}", describe_mosq_error(rc)));
  }
  PropertyList props;
  if (options_.version == 5 && options_.session_expiry)
    mosquitto_property_add_int32(&props.head, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                 *options_.session_expiry);
  int rc = mosquitto_connect_bind_v5(mosq_, options_.host.c_str(), options_.port,
                                     options_.keepalive, nullptr, props.head);
  if (rc != MOSQ_ERR_SUCCESS)
    return std::unexpected(strformat("cannot connect to {}:{}: {}", options_.host, options_.port,
                                       describe_mosq_error(rc)));
  {
    std::lock_guard lock(mutex_);
    socket_open_ = true;
  }
  thread_ = std::thread(&Connection::run_loop, this);

  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return connack_received_ || !socket_open_; });
  if (connack_received_ && connack_code_ == 0) return session_present_;
  std::string error;
  if (connack_received_)
    error = "connection refused: " + describe_reason(connack_code_, options_.version, protocol::PacketType::Connack);
  else if (!socket_open_)
    error = strformat("connection to {}:{} closed before CONNACK", options_.host, options_.port);
  else
    error = strformat("no CONNACK from {}:{} within {:g} s", options_.host, options_.port,
                        timeout.count());
  lock.unlock();
  stop_thread();
  return std::unexpected(error);
}

void Connection::run_loop() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stop_requested_) break;
    }
    if (mosquitto_loop(mosq_, 100, 1) != MOSQ_ERR_SUCCESS) break;
  }
  std::lock_guard lock(mutex_);
  socket_open_ = false;
  connected_ = false;
  changed_.notify_all();
}

void Connection::stop_thread() {
  {
    std::lock_guard lock(mutex_);
    stop_requested_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Connection::disconnect() {
  if (!mosq_) return;
  bool send = false;
  {
    std::lock_guard lock(mutex_);
    user_disconnect_ = true;
    send = connected_ && socket_open_;
  }
  if (send && mosquitto_disconnect_v5(mosq_, 0, nullptr) == MOSQ_ERR_SUCCESS) {
    // The network thread flushes queued packets, then DISCONNECT, then closes the socket.
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, std::chrono::seconds(2), [&] { return !socket_open_; });
  }
  stop_thread();
  std::lock_guard lock(mutex_);
  connected_ = false;
}

std::expected<Connection::Ack, std::string> Connection::wait_ack(int mid, Seconds timeout,
                                                                 const char* what) {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return acks_.contains(mid) || !connected_; });
  if (auto node = acks_.extract(mid)) return node.mapped();
  ignored_mids_.insert(mid);  // a late acknowledgement is dropped
  if (!connected_) return std::unexpected(strformat("connection lost while waiting for {}", what));
  return std::unexpected(strformat("no {} within {:g} s", what, timeout.count()));
}

std::expected<int, std::string> Connection::subscribe(const std::string& filter, int qos,
                                                      Seconds timeout) {
  if (!connected()) return std::unexpected("not connected");
  int mid = 0;
  int rc = mosquitto_subscribe_v5(mosq_, &mid, filter.c_str(), qos, 0, nullptr);
  if (rc != MOSQ_ERR_SUCCESS)
    return std::unexpected(strformat("subscribe failed: {}", describe_mosq_error(rc)));
  auto ack = wait_ack(mid, timeout, "SUBACK");
  if (!ack) return std::unexpected(ack.error());
  if (ack->reason >= 0x80)
    return std::unexpected(strformat("subscription to '{}' refused: {}", filter,
                                     describe_reason(ack->reason, options_.version, protocol::PacketType::Suback)));
  return ack->reason;
}

std::expected<void, std::string> Connection::unsubscribe(const std::string& filter,
                                                         Seconds timeout) {
  if (!connected()) return std::unexpected("not connected");
  int mid = 0;
  int rc = mosquitto_unsubscribe_v5(mosq_, &mid, filter.c_str(), nullptr);
  if (rc != MOSQ_ERR_SUCCESS)
    return std::unexpected(strformat("unsubscribe failed: {}", describe_mosq_error(rc)));
  auto ack = wait_ack(mid, timeout, "UNSUBACK");
  if (!ack) return std::unexpected(ack.error());
  return {};
}

std::expected<Connection::Published, std::string> Connection::publish(
    const std::string& topic, const std::string& payload, int qos, bool retain,
    std::optional<std::uint32_t> expiry, Seconds timeout) {
  if (!connected()) return std::unexpected("not connected");
  PropertyList props;
  if (expiry) {
    if (options_.version != 5) return std::unexpected("--expiry needs MQTT 5.0 (--v5)");
    mosquitto_property_add_int32(&props.head, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, *expiry);
  }
  int mid = 0;
  int rc = mosquitto_publish_v5(mosq_, &mid, topic.c_str(), static_cast<int>(payload.size()),
                                payload.data(), qos, retain, props.head);
  if (rc != MOSQ_ERR_SUCCESS)
    return std::unexpected(strformat("publish failed: {}", describe_mosq_error(rc)));
  if (qos == 0) {
    std::lock_guard lock(mutex_);
    if (acks_.erase(mid) == 0) ignored_mids_.insert(mid);
    return Published{};
  }
  auto ack = wait_ack(mid, timeout, qos == 1 ? "PUBACK" : "PUBCOMP");
  if (!ack) return std::unexpected(ack.error());
  if (ack->reason >= 0x80)
    return std::unexpected(
        strformat("publish to '{}' rejected: {}", topic,
                  describe_reason(ack->reason, options_.version,
                                  qos == 1 ? protocol::PacketType::Puback : protocol::PacketType::Pubrec)));
  return Published{mid, ack->reason};
}

void Connection::complete(int mid, int reason) {
  std::lock_guard lock(mutex_);
  if (ignored_mids_.erase(mid)) return;
  acks_[mid] = Ack{reason};
  changed_.notify_all();
}

void Connection::on_connect(mosquitto*, void* self, int rc, int flags, const mqtt5__property*) {
  auto* c = static_cast<Connection*>(self);
  std::lock_guard lock(c->mutex_);
  c->connack_received_ = true;
  c->connack_code_ = rc;
  c->session_present_ = (flags & 1) != 0;
  c->connected_ = rc == 0;
  c->changed_.notify_all();
}

void Connection::on_disconnect(mosquitto*, void* self, int rc, const mqtt5__property*) {
  auto* c = static_cast<Connection*>(self);
  bool report = false;
  {
    std::lock_guard lock(c->mutex_);
    report = c->connected_ && !c->user_disconnect_;
    c->connected_ = false;
    c->changed_.notify_all();
  }
  if (report) {
    // rc is a server DISCONNECT reason (>= 0x80) or a libmosquitto error.
    std::string why = rc >= 0x80 ? describe_reason(rc, 5, protocol::PacketType::Disconnect) : describe_mosq_error(rc);
    Output::get().note(strformat("disconnected {}: connection lost: {}", c->name_, why));
  }
}

void Connection::on_publish(mosquitto*, void* self, int mid, int reason, const mqtt5__property*) {
  static_cast<Connection*>(self)->complete(mid, reason);
}

void Connection::on_subscribe(mosquitto*, void* self, int mid, int count, const int* granted,
                              const mqtt5__property*) {
  static_cast<Connection*>(self)->complete(mid, count > 0 ? granted[0] : 0x80);
}

void Connection::on_unsubscribe(mosquitto*, void* self, int mid, const mqtt5__property*) {
  static_cast<Connection*>(self)->complete(mid, 0);
}

void Connection::on_message(mosquitto*, void* self, const mosquitto_message* msg,
                            const mqtt5__property*) {
  auto* c = static_cast<Connection*>(self);
  Message m;
  m.connection = c->name_;
  m.topic = msg->topic ? msg->topic : "";
  if (msg->payload && msg->payloadlen > 0)
    m.payload.assign(static_cast<const char*>(msg->payload), msg->payloadlen);
  m.qos = msg->qos;
  m.retain = msg->retain;
  if (c->on_message_) c->on_message_(std::move(m));
}

}  // namespace musqratt::cli
