#include "protocol/connection_engine.h"

#include <algorithm>

#include "protocol/topic.h"

namespace musqratt::protocol {

namespace {

/// Before CONNECT, no more than a CONNECT can need (five 64 KiB fields and change): an
/// unauthenticated peer cannot make a server buffer more.
constexpr uint32_t kMaxConnectSize = 512 * 1024;

/// Level byte of a CONNECT body, if it can be found, so a CONNECT too broken to decode can
/// still be answered in the client's own protocol version.
std::optional<uint8_t> peek_connect_level(std::span<const uint8_t> body) {
  if (body.size() < 2) return std::nullopt;
  size_t name_len = size_t{body[0]} << 8 | body[1];
  if (body.size() < 2 + name_len + 1) return std::nullopt;
  return body[2 + name_len];
}

}  // namespace

ConnectionEngine::ConnectionEngine(Role role)
    : role_(role), state_(role == Role::Server ? State::AwaitConnect : State::AwaitConnack) {}

size_t ConnectionEngine::max_incoming_now() const {
  return role_ == Role::Server && state_ != State::Established ? std::min(kMaxConnectSize, max_incoming_)
                                                                : max_incoming_;
}

// ---------------------------------------------------------------- input

void ConnectionEngine::receive(std::span<const uint8_t> data, EngineEvents& ev, util::TimePoint now) {
  if (closing_) return;
  if (paused_) {
    in_.append(reinterpret_cast<const char*>(data.data()), data.size());
    return;
  }
  process(data, ev, now);
}

void ConnectionEngine::resume(EngineEvents& ev, util::TimePoint now) {
  paused_ = false;
  if (closing_ || in_.empty()) return;
  std::string kept = std::move(in_);
  in_.clear();
  process({reinterpret_cast<const uint8_t*>(kept.data()), kept.size()}, ev, now);
}

void ConnectionEngine::process(std::span<const uint8_t> data, EngineEvents& ev, util::TimePoint now) {
  if (!in_.empty()) {
    data = complete_buffered(data, ev, now);
    if (!in_.empty() || closing_) {  // still short of a packet, or stopped inside what was kept
      if (!closing_) in_.append(reinterpret_cast<const char*>(data.data()), data.size());
      return;
    }
  }
  size_t pos = take_frames(data, ev, now);
  if (!closing_) in_.assign(reinterpret_cast<const char*>(data.data() + pos), data.size() - pos);
}

std::span<const uint8_t> ConnectionEngine::complete_buffered(std::span<const uint8_t> data, EngineEvents& ev,
                                                             util::TimePoint now) {
  // Only the bytes the kept packet lacks are appended: appending the whole read, then
  // processing it from the copy, copied every byte of a stream of large packets once more
  // (a read rarely ends on a packet boundary).
  auto kept = [this] { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(in_.data()), in_.size()); };
  while (!in_.empty() && !data.empty()) {
    FrameHeader h;
    size_t want = data.size();  // a malformed or oversized header: take_frames refuses it below
    FrameStatus status = read_frame_header(kept(), h);
    if (status == FrameStatus::NeedMore) want = 1;  // the length is not known yet: a byte at a time (at most 4)
    else if (status == FrameStatus::Complete && h.total_size() <= max_incoming_now())
      want = h.total_size() > in_.size() ? h.total_size() - in_.size() : 0;
    want = std::min(want, data.size());
    in_.append(reinterpret_cast<const char*>(data.data()), want);
    data = data.subspan(want);
    // Handled, or refused on its header, or (nothing taken) still short of its end.
    size_t pos = take_frames(kept(), ev, now);
    if (closing_) in_.clear();
    else in_.erase(0, pos);
    if (closing_ || paused_) break;
  }
  return data;
}

size_t ConnectionEngine::take_frames(std::span<const uint8_t> buf, EngineEvents& ev, util::TimePoint now) {
  size_t pos = 0;
  while (!closing_ && !paused_ && pos < buf.size()) {
    FrameHeader h;
    FrameStatus status = read_frame_header(buf.subspan(pos), h);
    if (status == FrameStatus::Malformed) {
      violation(ev, Reason::MalformedPacket, "malformed fixed header");
      break;
    }
    if (status == FrameStatus::NeedMore) break;
    // Refused on the header alone: nothing is buffered for a packet that will not be taken
    // ([MQTT-3.2.2-15, 5.0] for a server; [MQTT-3.1.2-24, 5.0] for a client).
    if (h.total_size() > max_incoming_now()) {
      violation(ev, Reason::PacketTooLarge, "packet exceeds maximum packet size");
      break;
    }
    if (state_ == State::AwaitConnect && h.type() != PacketType::Connect) {
      // [MQTT-3.1.0-1, 3.1.1 and 5.0]: close without a word.
      closing_ = true;
      ev.on_violation(Reason::ProtocolError, "first packet was not CONNECT");
      break;
    }
    if (buf.size() - pos < h.total_size()) break;
    last_received_ = now;
    handle_frame(h, buf.subspan(pos + h.header_size, h.remaining_length), ev);
    pos += h.total_size();
  }
  return pos;
}

void ConnectionEngine::handle_frame(const FrameHeader& h, std::span<const uint8_t> body, EngineEvents& ev) {
  if (auto id = plain_ack_id(h.first_byte, body); id && state_ == State::Established) {
    // The common acknowledgement (an id, no reason, no properties) skips the general decoder
    // and its Packet; the Ack is reused, its properties always empty.
    thread_local Ack ack;
    ack.type = h.type();
    ack.packet_id = *id;
    ack.reason = Reason::Success;
    ev.on_ack(ack);
    return;
  }
  if (h.type() == PacketType::Publish && state_ == State::Established) {
    // Each PUBLISH is decoded into one Publish per thread rather than a new Packet: building,
    // moving and destroying a Packet's properties cost more than the rest of the decode. What
    // a receiver moved out of it (topic, payload, a 5.0 client's properties) is reset here.
    thread_local Publish pub;
    thread_local bool properties_used = false;
    if (properties_used) pub.properties = Properties{};
    properties_used = version_ == Version::V5;
    if (auto err = decode_publish_into(h.first_byte, body, version_, pub)) return violation(ev, err->reason, err->detail);
    return on_publish_packet(pub, ev);
  }
  auto decoded = decode_packet(h.first_byte, body, version_);
  if (!decoded) {
    if (state_ == State::AwaitConnect) return handle_bad_connect(decoded.error(), body, ev);
    return violation(ev, decoded.error().reason, decoded.error().detail);
  }
  dispatch(*decoded, ev);
}

void ConnectionEngine::handle_bad_connect(const DecodeError& err, std::span<const uint8_t> body, EngineEvents& ev) {
  std::optional<uint8_t> level = peek_connect_level(body);
  if (err.reason == Reason::UnsupportedProtocolVersion) {
    // [MQTT-3.1.2-2, 3.1.1]: CONNACK 0x01, then close; a 5.0 client is told 0x84 the same way.
    version_ = level == 5 ? Version::V5 : Version::V311;
    refuse(Reason::UnsupportedProtocolVersion, err.detail);
  } else if (level == 5) {
    // 5.0 lets a server say why before it closes [MQTT-3.1.4-1, 5.0; section 3.1.4].
    version_ = Version::V5;
    refuse(err.reason, err.detail);
  } else {
    // 3.1/3.1.1: a CONNECT that breaks the packet rules closes the connection without a
    // CONNACK [MQTT-3.1.4-1, 3.1.1]; a return code would tell the client something false.
    closing_ = true;
  }
  ev.on_violation(err.reason, err.detail);
}

void ConnectionEngine::on_publish_packet(Publish& p, EngineEvents& ev) {
  if (!resolve_incoming_alias(p, ev)) return;
  // [MQTT-3.3.2-2, 3.1.1 and 5.0]: no wildcards (and a name at all) in a PUBLISH topic.
  if (!valid_topic_name(p.topic)) return violation(ev, Reason::TopicNameInvalid, "invalid topic name");
  ev.on_publish(p);
}

void ConnectionEngine::dispatch(Packet& packet, EngineEvents& ev) {
  PacketType type = packet_type(packet);
  switch (type) {
    case PacketType::Publish: {
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "PUBLISH before the connection is established");
      return on_publish_packet(std::get<Publish>(packet), ev);
    }
    case PacketType::Puback:
    case PacketType::Pubrec:
    case PacketType::Pubrel:
    case PacketType::Pubcomp:
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "acknowledgement before the connection is established");
      ev.on_ack(std::get<Ack>(packet));
      return;
    case PacketType::Disconnect:
      ev.on_disconnect(std::get<Disconnect>(packet));
      closing_ = true;  // nothing after DISCONNECT is read [MQTT-3.14.4-1, 5.0]
      return;
    default: break;
  }
  if (role_ == Role::Server) dispatch_server(packet, ev);
  else dispatch_client(packet, ev);
}

void ConnectionEngine::dispatch_server(Packet& packet, EngineEvents& ev) {
  switch (packet_type(packet)) {
    case PacketType::Connect: {
      if (state_ != State::AwaitConnect) return violation(ev, Reason::ProtocolError, "second CONNECT");  // [MQTT-3.1.0-2]
      Connect& c = std::get<Connect>(packet);
      version_ = c.version;
      state_ = State::AwaitAccept;
      ev.on_connect(c);
      if (state_ == State::AwaitAccept && !closing_) paused_ = true;  // answered later
      return;
    }
    case PacketType::Subscribe:
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "SUBSCRIBE before CONNACK");
      ev.on_subscribe(std::get<Subscribe>(packet));
      return;
    case PacketType::Unsubscribe:
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "UNSUBSCRIBE before CONNACK");
      ev.on_unsubscribe(std::get<Unsubscribe>(packet));
      return;
    case PacketType::Pingreq: send(Pingresp{}); return;  // [MQTT-3.12.4-1]
    case PacketType::Auth: return violation(ev, Reason::ProtocolError, "AUTH without an authentication method");  // [MQTT-4.12.0-1, 5.0]
    default: return violation(ev, Reason::ProtocolError, "server-to-client packet sent by a client");
  }
}

void ConnectionEngine::dispatch_client(Packet& packet, EngineEvents& ev) {
  switch (packet_type(packet)) {
    case PacketType::Connack: {
      if (state_ != State::AwaitConnack) return violation(ev, Reason::ProtocolError, "second CONNACK");
      const Connack& c = std::get<Connack>(packet);
      if (c.reason == Reason::Success) {
        state_ = State::Established;
        const Properties& p = c.properties;
        if (p.receive_maximum) peer_receive_max_ = *p.receive_maximum;
        if (p.maximum_packet_size) peer_max_packet_ = *p.maximum_packet_size;
        if (p.topic_alias_maximum) peer_alias_max_ = *p.topic_alias_maximum;
        if (p.server_keep_alive) keep_alive_ = *p.server_keep_alive;  // [MQTT-3.2.2-21, 5.0]
      } else {
        closing_ = true;  // [MQTT-3.2.2-5, 3.1.1; MQTT-3.2.2-7, 5.0]: the server closes too
      }
      ev.on_connack(c);
      return;
    }
    case PacketType::Suback:
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "SUBACK before CONNACK");
      ev.on_suback(std::get<Suback>(packet));
      return;
    case PacketType::Unsuback:
      if (state_ != State::Established) return violation(ev, Reason::ProtocolError, "UNSUBACK before CONNACK");
      ev.on_unsuback(std::get<Unsuback>(packet));
      return;
    case PacketType::Pingresp: return;  // last_received_ is all it is for
    default: return violation(ev, Reason::ProtocolError, "client-to-server packet sent by a server");
  }
}

bool ConnectionEngine::resolve_incoming_alias(Publish& p, EngineEvents& ev) {
  if (!v5()) return true;
  if (role_ == Role::Server && !p.properties.subscription_identifiers.empty()) {
    violation(ev, Reason::ProtocolError, "subscription identifier in a client's PUBLISH");  // [MQTT-3.3.4-6, 5.0]
    return false;
  }
  if (!p.properties.topic_alias) return true;
  uint16_t alias = *p.properties.topic_alias;
  if (alias == 0 || alias > incoming_alias_max_) {
    violation(ev, Reason::TopicAliasInvalid, "topic alias out of range");  // [MQTT-3.3.2-8], [MQTT-3.3.2-9], [MQTT-3.3.2-10], 5.0
    return false;
  }
  if (p.topic.empty()) {
    auto& in = rare().aliases_in;
    auto it = in.find(alias);
    if (it == in.end()) {
      violation(ev, Reason::ProtocolError, "unknown topic alias");  // section 3.3.2.3.4, 5.0
      return false;
    }
    p.topic = it->second;
  } else {
    rare().aliases_in[alias] = p.topic;
  }
  p.properties.topic_alias.reset();  // resolved: what follows sees only the topic
  return true;
}

void ConnectionEngine::violation(EngineEvents& ev, Reason reason, const char* why) {
  if (closing_) return;
  fail(reason, why);
  ev.on_violation(reason, why);
}

// ---------------------------------------------------------------- connection set-up

void ConnectionEngine::accept(const Connect& c, Connack& ack, uint16_t keep_alive) {
  if (state_ != State::AwaitAccept) return;
  version_ = c.version;
  keep_alive_ = keep_alive;
  if (v5()) {
    const Properties& p = c.properties;
    peer_receive_max_ = p.receive_maximum.value_or(65535);
    peer_max_packet_ = p.maximum_packet_size.value_or(0xFFFFFFFF);
    peer_alias_max_ = p.topic_alias_maximum.value_or(0);
    problem_information_ = p.request_problem_information.value_or(1) != 0;
  }
  // In 3.1 the CONNACK's first variable-header byte is reserved: no session-present flag.
  if (version_ == Version::V31) ack.session_present = false;
  ack.reason = Reason::Success;
  send(ack);
  state_ = State::Established;
  paused_ = false;  // the caller resumes kept input when it is ready (resume())
}

void ConnectionEngine::refuse(Reason reason, const char* why) {
  if (closing_) return;
  Connack ack;
  ack.reason = reason;
  if (v5()) ack.properties.reason_string = why;  // allowed on CONNACK [MQTT-3.1.2-29, 5.0]
  send(ack);
  closing_ = true;
}

void ConnectionEngine::start(const Connect& c, util::TimePoint now) {
  version_ = c.version;
  keep_alive_ = c.keep_alive;
  state_ = State::AwaitConnack;
  last_received_ = now;
  send(c);
  rare().last_sent = now;
}

// ---------------------------------------------------------------- output

size_t ConnectionEngine::send(const Packet& p) {
  if (role_ == Role::Client && rare_) rare_->last_sent = {};  // "sent since the last tick"
  return encode_packet(p, version_, out_);
}

size_t ConnectionEngine::send_ack(PacketType type, uint16_t packet_id, Reason reason) {
  const bool reason_string = v5() && is_error(reason) && problem_information_;
  if (!reason_string) {
    if (role_ == Role::Client && rare_) rare_->last_sent = {};  // as send() does
    return encode_ack(type, packet_id, reason, version_, out_);
  }
  Ack a;
  a.type = type;
  a.packet_id = packet_id;
  a.reason = reason;
  if (v5() && is_error(reason) && problem_information_) a.properties.reason_string = reason_name(reason);
  return send(a);
}

size_t ConnectionEngine::send_publish(PublishView v) {
  if (v5() && peer_alias_max_ && !v.dup) {
    auto& out = rare().aliases_out;
    auto it = out.find(v.topic);
    if (it != out.end()) {
      v.topic_alias = it->second;
      v.topic = {};
    } else if (out.size() < peer_alias_max_) {
      v.topic_alias = static_cast<uint16_t>(out.size() + 1);  // registered once it is sent
    }
  }
  if (!v5()) v.properties = nullptr;
  size_t size = publish_size(v, version_);
  if (size > peer_max_packet_) return 0;
  if (v.topic_alias && !v.topic.empty()) rare().aliases_out.emplace(std::string(v.topic), v.topic_alias);
  if (role_ == Role::Client && rare_) rare_->last_sent = {};
  if (v.payload_owner && v.payload.size() >= kSendByReferenceMin) {
    // The payload is written from the shared message: one copy of it less per receiver.
    encode_publish_head(v, version_, out_);
    Rare& r = rare();
    r.held.push_back({static_cast<uint32_t>(out_.size()), 0, v.payload, std::move(v.payload_owner)});
    r.held_bytes += v.payload.size();
    return size;
  }
  return encode_publish(v, version_, out_);
}

size_t ConnectionEngine::output_segments(std::span<std::string_view> seg) const {
  const std::string_view out(out_);
  size_t n = 0;
  size_t pos = out_pos_;
  if (holding()) {
    for (size_t i = rare_->held_head; i < rare_->held.size(); ++i) {
      const HeldPayload& h = rare_->held[i];
      if (h.at > pos) {
        if (n == seg.size()) return n;
        seg[n++] = out.substr(pos, h.at - pos);
      }
      if (n == seg.size()) return n;
      seg[n++] = h.bytes.substr(h.done);
      pos = h.at;
    }
  }
  if (pos < out.size() && n < seg.size()) seg[n++] = out.substr(pos);
  return n;
}

std::string_view ConnectionEngine::pending_output() {
  if (holding()) copy_in_held();
  return std::string_view(out_).substr(out_pos_);
}

void ConnectionEngine::copy_in_held() {
  Rare& r = *rare_;
  std::string flat;
  flat.reserve(pending_size());
  size_t pos = out_pos_;
  for (size_t i = r.held_head; i < r.held.size(); ++i) {
    const HeldPayload& h = r.held[i];
    flat.append(out_, pos, h.at - pos);
    flat.append(h.bytes.substr(h.done));
    pos = h.at;
  }
  flat.append(out_, pos);
  out_ = std::move(flat);
  out_pos_ = 0;
  r.held.clear();
  r.held_head = 0;
  r.held_bytes = 0;
}

void ConnectionEngine::consume_output(size_t n) {
  // Output is bounded by the maximum packet size (< 4 GiB), so positions fit 32 bits.
  if (holding()) {
    Rare& r = *rare_;
    while (n > 0 && r.held_head < r.held.size()) {
      HeldPayload& h = r.held[r.held_head];
      if (out_pos_ < h.at) {
        size_t take = std::min<size_t>(n, h.at - out_pos_);
        out_pos_ += static_cast<uint32_t>(take);
        n -= take;
        continue;
      }
      size_t take = std::min<size_t>(n, h.bytes.size() - h.done);
      h.done += static_cast<uint32_t>(take);
      r.held_bytes -= take;
      n -= take;
      if (h.done == h.bytes.size()) {
        h.owner.reset();  // written: the message may go
        ++r.held_head;
      }
    }
    if (r.held_head == r.held.size()) {
      r.held.clear();
      r.held_head = 0;
    }
  }
  out_pos_ += static_cast<uint32_t>(n);
  compact_output();
}

void ConnectionEngine::compact_output() {
  size_t shift;
  if (out_pos_ >= out_.size()) {
    shift = out_.size();
    out_.clear();
  } else if (out_pos_ > 64 * 1024 && out_pos_ * 2 > out_.size()) {
    shift = out_pos_;
    out_.erase(0, out_pos_);
  } else {
    return;
  }
  out_pos_ = 0;
  if (holding())
    for (size_t i = rare_->held_head; i < rare_->held.size(); ++i) rare_->held[i].at -= static_cast<uint32_t>(shift);
}

// ---------------------------------------------------------------- time and closing

void ConnectionEngine::tick(EngineEvents& ev, util::TimePoint now) {
  if (closing_ || state_ != State::Established || keep_alive_ == 0) return;
  const util::Millis grace(uint64_t{keep_alive_} * 1500);
  if (now - last_received_ > grace) {
    violation(ev, Reason::KeepAliveTimeout, role_ == Role::Server ? "keep alive timeout" : "server silent past the keep-alive");
    return;
  }
  if (role_ == Role::Client) {
    // send() clears last_sent to mean "something went out since the last tick".
    util::TimePoint& last_sent = rare().last_sent;
    if (last_sent == util::TimePoint{}) last_sent = now;
    if (now - last_sent >= util::Seconds(keep_alive_)) {
      send(Pingreq{});
      last_sent = now;
    }
  }
}

void ConnectionEngine::fail(Reason reason, const char* why) {
  if (closing_) return;
  if (v5() && state_ == State::Established) {
    Disconnect d;
    d.reason = reason;
    d.properties.reason_string = why;  // allowed on DISCONNECT [MQTT-3.1.2-29, 5.0]
    send(d);
  }
  closing_ = true;
}

}  // namespace musqratt::protocol
