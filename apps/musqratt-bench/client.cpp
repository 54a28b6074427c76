#include "client.hpp"

#include <cstring>

namespace mqb {

using namespace wire;

void Client::start_session(const Options& o) {
  ConnectParams p;
  p.client_id = client_id;
  p.v5 = o.v5;
  p.clean = clean;
  p.keepalive = o.keepalive;
  if (o.v5 && !clean) p.session_expiry = 3600;
  connect(out, p);
  state = State::wait_connack;
}

void Client::publish(Stats& st, uint32_t n, int64_t now) {
  const std::size_t len = tmpl.bytes.size();
  uint8_t* p = out.reserve(len * n);
  const uint8_t* src = tmpl.bytes.data();
  const std::size_t po = tmpl.payload_off, pid_off = tmpl.pid_off;
  const uint64_t ts = uint64_t(now);
  for (uint32_t i = 0; i < n; ++i, p += len) {
    std::memcpy(p, src, len);
    std::memcpy(p + po + 4, &seq, 4);
    std::memcpy(p + po + 8, &ts, 8);
    ++seq;
    if (pid_off) {
      p[pid_off] = uint8_t(next_pid >> 8);
      p[pid_off + 1] = uint8_t(next_pid);
      if (++next_pid == 0) next_pid = 1;
    }
  }
  out.commit(len * n);
  if (tmpl.pid_off) inflight += n;
  st.sent += n;
}

void Client::record(Stats& st, uint32_t pub, uint32_t s, int64_t sent_ns, int64_t now) {
  uint32_t si = pub - stream_base;
  if (si >= streams.size()) {
    ++st.unexpected;
    return;
  }
  Stream& str = streams[si];
  std::size_t w = s >> 6;
  if (w >= str.seen.size()) str.seen.resize(std::max(w + 1, str.seen.size() * 2), 0);
  uint64_t bit = 1ull << (s & 63);
  if (str.seen[w] & bit) {
    ++st.dup;
    return;
  }
  str.seen[w] |= bit;
  ++st.unique;
  if (s + 1 < str.next) ++st.out_of_order;
  else str.next = s + 1;
  if (now >= st.window_start_ns && now < st.window_end_ns) ++st.window_delivered;
  if (sent_ns < st.window_start_ns || sent_ns >= st.window_end_ns) return;
  int64_t lat = now - sent_ns;
  st.latency.record(lat > 0 ? uint64_t(lat) : 0);
}

void Client::on_publish(Stats& st, const Options& o, const Header& h, const uint8_t* body, int64_t now) {
  const uint32_t rem = h.remaining;
  const int qos = (h.first >> 1) & 3;
  if (rem < 2) {
    ++st.unexpected;
    return;
  }
  std::size_t off = 2 + std::size_t(get_u16(body));
  uint16_t pid = 0;
  if (qos) {
    if (off + 2 > rem) { ++st.unexpected; return; }
    pid = get_u16(body + off);
    off += 2;
  }
  if (o.v5) {
    uint32_t plen = 0;
    std::size_t k = off < rem ? read_varint(body + off, rem - off, plen) : 0;
    if (!k) { ++st.unexpected; return; }
    off += k + plen;
  }
  ++st.received;
  if (off + kPayloadHeader <= rem) {
    uint32_t pub, s;
    uint64_t ts;
    std::memcpy(&pub, body + off, 4);
    std::memcpy(&s, body + off + 4, 4);
    std::memcpy(&ts, body + off + 8, 8);
    record(st, pub, s, int64_t(ts), now);
    st.last_delivery_ns = now;
  } else {
    ++st.unexpected;
  }
  if (qos == 1) ack(out, kPuback, pid);
  else if (qos == 2) ack(out, kPubrec, pid);
}

bool Client::on_input(Stats& st, const Options& o, int64_t now) {
  const uint8_t* base = in.begin();
  const std::size_t n = in.size();
  std::size_t used = 0;
  bool ok = true;
  while (ok) {
    Header h;
    int r = parse_header(base + used, n - used, h);
    if (r < 0) { ok = false; break; }
    if (r == 0) break;
    std::size_t total = std::size_t(h.header_len) + h.remaining;
    if (n - used < total) break;
    const uint8_t* body = base + used + h.header_len;
    switch (h.type()) {
      case kPublish:
        on_publish(st, o, h, body, now);
        break;
      case kPuback:
      case kPubcomp:
        if (h.remaining > 2 && body[2] >= 0x80) ++st.publish_errors;
        if (inflight) --inflight;
        ++st.completed;
        break;
      case kPubrec:
        if (h.remaining < 2) { ok = false; break; }
        if (h.remaining > 2 && body[2] >= 0x80) {  // v5: the flow ends here
          ++st.publish_errors;
          if (inflight) --inflight;
          ++st.completed;
        } else {
          ack(out, kPubrel, get_u16(body));
        }
        break;
      case kPubrel:
        if (h.remaining < 2) { ok = false; break; }
        ack(out, kPubcomp, get_u16(body));
        break;
      case kConnack: {
        if (h.remaining < 2 || state != State::wait_connack) { ok = false; break; }
        if (body[1] != 0) { ok = false; break; }  // refused (v3 return code / v5 reason code)
        session_present = body[0] & 1;
        window = uint32_t(o.inflight);
        if (o.v5 && h.remaining > 2) {
          uint32_t rm = connack_receive_maximum(body + 2, h.remaining - 2);
          if (rm == 0) { ok = false; break; }
          if (rm < window) window = rm;
        }
        if (role == Role::sub && !(o.scenario == Scenario::persist && session_present && !clean)) {
          subscribe(out, 1, filter, o.qos, o.v5);
          state = State::wait_suback;
        } else {
          state = State::ready;
        }
        break;
      }
      case kSuback: {
        if (state != State::wait_suback || h.remaining < 3) { ok = false; break; }
        std::size_t off = 2;
        if (o.v5) {
          uint32_t plen = 0;
          std::size_t k = read_varint(body + off, h.remaining - off, plen);
          if (!k) { ok = false; break; }
          off += k + plen;
        }
        if (off >= h.remaining || body[off] >= 0x80) { ++st.publish_errors; ok = false; break; }
        state = State::ready;
        break;
      }
      case kPingresp:
        ping_pending = false;
        break;
      case kDisconnect:
        ok = false;
        break;
      default:
        break;
    }
    used += total;
  }
  in.consume(used);
  return ok;
}

}  // namespace mqb
