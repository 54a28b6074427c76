// NatsLink: connection to NATS, the JetStream objects it needs, heartbeats between nodes and
// $SYS/broker/cluster/... (the publish and receive paths are in nats_publish.cpp and
// nats_receive.cpp).
#include "cluster/nats_link.h"

#include <cinttypes>
#include <cstdio>
#include <random>

#include "cluster/nats_link_internal.h"
#include "cluster/subject_map.h"
#include "util/log.h"

namespace musqratt::cluster {

namespace {

uint64_t random_instance() {
  std::random_device rd;
  uint64_t v = (uint64_t{rd()} << 32) ^ rd();
  return v ? v : 1;
}

const char* state_name(int s) {
  switch (s) {
    case NATS_CONN_STATUS_CONNECTED: return "connected";
    case NATS_CONN_STATUS_RECONNECTING: return "reconnecting";
    case NATS_CONN_STATUS_CONNECTING: return "connecting";
    case NATS_CONN_STATUS_CLOSED: return "closed";
    default: return "disconnected";
  }
}

}  // namespace

NatsLink::NatsLink(ClusterConfig config, broker::Broker& broker)
    : config_(std::move(config)),
      broker_(broker),
      instance_(random_instance()),
      prefix_(config_.subject_prefix + "."),
      stream_msgs_(config_.subject_prefix + "_MSGS"),
      stream_retained_(config_.subject_prefix + "_RETAINED"),
      stream_hold_(config_.subject_prefix + "_HOLD"),
      bucket_sessions_(config_.subject_prefix + "_SESSIONS"),
      hold_enabled_(!broker.config().hold_unsubscribed.empty()) {}

NatsLink::~NatsLink() { stop(); }

std::string NatsLink::subject_of(std::string_view kind, std::string_view topic) const {
  std::string s;
  s.reserve(prefix_.size() + kind.size() + topic.size() + 8);
  s += prefix_;
  s += kind;
  s += '.';
  append_topic_subject(s, topic);
  return s;
}

std::string NatsLink::start() {
  // One small pool of threads delivers every subscription's messages (instead of a thread per
  // subscription: a node subscribes once per distinct filter).
  static std::once_flag pool_once;
  std::call_once(pool_once, [] { nats_SetMessageDeliveryPoolSize(2); });

  auto fail = [&](const char* what, natsStatus s) {
    return std::string("[cluster] ") + what + ": " + natsStatus_GetText(s) + " (" + nats_GetLastError(nullptr) + ")";
  };
  natsStatus s = natsOptions_Create(&opts_);
  if (s != NATS_OK) return fail("NATS options", s);
  std::vector<const char*> urls;
  bool tls = config_.tls;
  for (const auto& u : config_.nats) {
    urls.push_back(u.c_str());
    tls = tls || parse_nats_url(u).tls;
  }
  natsOptions_SetServers(opts_, urls.data(), static_cast<int>(urls.size()));
  natsOptions_SetName(opts_, ("musqratt " + config_.node).c_str());
  natsOptions_SetMaxReconnect(opts_, -1);
  natsOptions_SetReconnectWait(opts_, 250);
  natsOptions_SetReconnectJitter(opts_, 100, 500);
  natsOptions_SetTimeout(opts_, 2000);
  // A server that went away is noticed at once when its connection closes; one that hangs
  // or is cut off after three unanswered pings (6 s): shorter intervals made busy nodes on a
  // loaded machine drop healthy connections.
  natsOptions_SetPingInterval(opts_, 2000);
  natsOptions_SetMaxPingsOut(opts_, 3);
  // While reconnecting, what is published waits in this buffer (then is refused, see docs).
  natsOptions_SetReconnectBufSize(opts_, 64 << 20);
  natsOptions_SetMaxPendingMsgs(opts_, 1 << 20);
  natsOptions_UseGlobalMessageDelivery(opts_, true);
  natsOptions_SetDisconnectedCB(opts_, on_disconnected, this);
  natsOptions_SetReconnectedCB(opts_, on_reconnected, this);
  natsOptions_SetClosedCB(opts_, on_closed, this);
  natsOptions_SetErrorHandler(opts_, on_error, this);
  if (!config_.user.empty()) natsOptions_SetUserInfo(opts_, config_.user.c_str(), config_.password.c_str());
  if (!config_.token.empty()) natsOptions_SetToken(opts_, config_.token.c_str());
  if (!config_.credentials.empty()) {
    s = natsOptions_SetUserCredentialsFromFiles(opts_, config_.credentials.c_str(), nullptr);
    if (s != NATS_OK) return fail("credentials", s);
  }
  if (tls) {
    if ((s = natsOptions_SetSecure(opts_, true)) != NATS_OK) return fail("tls", s);
    if (!config_.tls_ca.empty() && (s = natsOptions_LoadCATrustedCertificates(opts_, config_.tls_ca.c_str())) != NATS_OK)
      return fail("tls_ca", s);
    if (!config_.tls_cert.empty() &&
        (s = natsOptions_LoadCertificatesChain(opts_, config_.tls_cert.c_str(), config_.tls_key.c_str())) != NATS_OK)
      return fail("tls_cert", s);
  }
  // Start even when no NATS server answers: local traffic must not wait for the cluster.
  natsOptions_SetRetryOnFailedConnect(opts_, true, on_connected, this);
  s = natsConnection_Connect(&nc_, opts_);
  if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) return fail("connect", s);

  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;  // JetStream API calls (consumers, records) run on the task queue: bounded
  jo.PublishAsync.AckHandler = on_pub_ack;
  jo.PublishAsync.AckHandlerClosure = this;
  jo.PublishAsync.MaxPending = 2 * kInFlight;  // never reached: the link keeps to kInFlight
  jo.PublishAsync.StallWait = 50;
  if ((s = natsConnection_JetStream(&js_, nc_, &jo)) != NATS_OK) return fail("JetStream context", s);

  heartbeat_ = make_core(prefix_ + "ctl.hb", "", SubKind::Heartbeat, "");
  takeover_sub_ = make_core(prefix_ + "ctl.takeover", "", SubKind::Takeover, "");
  handover_sub_ = make_core(prefix_ + "ctl." + config_.node + ".handover", "", SubKind::Handover, "");
  if (hold_enabled_) probe_sub_ = make_core(prefix_ + "probe." + config_.node + ".*", "", SubKind::ProbeReply, "");

  broker_.attach_cluster(this);
  LOG_INFO("cluster: node '%s' (instance %016" PRIx64 "), NATS %s, replicas %u, subjects %s*", config_.node.c_str(),
           instance_, config_.nats.front().c_str(), config_.replicas, prefix_.c_str());
  // With retry on a failed connect, Connect returns before any server answered.
  if (natsConnection_Status(nc_) == NATS_CONN_STATUS_CONNECTED) connection_up("connected");
  else LOG_WARN("cluster: no NATS server reachable yet; local traffic goes on, retrying in the background");
  tasks_.post_after(util::Millis(1000), [this] { heartbeat(); });
  return {};
}

void NatsLink::stop() {
  if (stopping_.exchange(true)) return;
  if (js_) {
    // What was published and not yet acknowledged gets a moment to be.
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    js_PublishAsyncComplete(js_, &po);
  }
  tasks_.stop();
  for (auto& [key, subs] : applied_) drop_interest(*subs);
  applied_.clear();
  retire(retained_);
  retire(heartbeat_);
  retire(takeover_sub_);
  retire(handover_sub_);
  retire(probe_sub_);
  retained_ = heartbeat_ = takeover_sub_ = handover_sub_ = probe_sub_ = nullptr;
  if (kv_) kvStore_Destroy(kv_);
  kv_ = nullptr;
  if (nc_) natsConnection_Close(nc_);
  if (js_) jsCtx_Destroy(js_);
  js_ = nullptr;
  {
    std::lock_guard lock(retry_mu_);
    for (natsMsg* m : retry_) natsMsg_Destroy(m);
    retry_.clear();
  }
  if (nc_) natsConnection_Destroy(nc_);
  nc_ = nullptr;
  if (opts_) natsOptions_Destroy(opts_);
  opts_ = nullptr;
}

// ---------------------------------------------------------------- connection events

void NatsLink::on_connected(natsConnection*, void* self) { static_cast<NatsLink*>(self)->connection_up("connected"); }

void NatsLink::on_reconnected(natsConnection*, void* self) { static_cast<NatsLink*>(self)->connection_up("reconnected"); }

void NatsLink::on_disconnected(natsConnection*, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  if (link->stopping_) return;
  link->state_ = NATS_CONN_STATUS_RECONNECTING;
  link->disconnects_++;
  // Publishers waiting for JetStream are answered now (acked() says so while disconnected).
  std::vector<broker::Link> wake;
  link->acks_.wake_all(wake);
  for (const auto& l : wake) l.waker->wake(l.token);
  LOG_WARN("cluster: disconnected from NATS; local traffic goes on, messages for other nodes wait (QoS 1/2) "
           "or are buffered up to 64 MiB (QoS 0) until a server is back");
}

void NatsLink::on_closed(natsConnection*, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  link->state_ = NATS_CONN_STATUS_CLOSED;
  if (!link->stopping_) LOG_ERROR("cluster: NATS connection closed");
}

void NatsLink::on_error(natsConnection*, natsSubscription* sub, natsStatus err, void* self) {
  auto* link = static_cast<NatsLink*>(self);
  if (link->stopping_) return;
  if (sub) {
    // A stream reader that missed heartbeats (its consumer went with a server), saw a gap or
    // dropped messages (slow consumer) is replaced by one starting after the last message taken.
    std::lock_guard lock(link->readers_mu_);
    if (auto it = link->readers_.find(sub); it != link->readers_.end()) {
      LOG_INFO("cluster: %s: %s; reading again from the stream", it->second->subject.c_str(), natsStatus_GetText(err));
      link->reader_broken(*it->second);
      return;
    }
  }
  // A slow-consumer drop on a core subscription loses QoS 0 messages only.
  LOG_WARN("cluster: NATS error on %s: %s", sub ? natsSubscription_GetSubject(sub) : "the connection",
           natsStatus_GetText(err));
}

void NatsLink::connection_up(const char* what) {
  if (stopping_) return;
  state_ = NATS_CONN_STATUS_CONNECTED;
  char url[256] = "";
  if (nc_) natsConnection_GetConnectedUrl(nc_, url, sizeof url);
  LOG_INFO("cluster: %s to NATS %s", what, url);
  tasks_.post([this] {
    ensure_streams();
    retry_pending();
  });
}

// ---------------------------------------------------------------- JetStream objects

namespace {

/// Creates the stream, or brings an existing one to `sc` (replicas, limits). Returns an error
/// text, empty on success.
std::string add_or_update_stream(jsCtx* js, jsStreamConfig& sc) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = static_cast<jsErrCode>(0);
  natsStatus s = js_AddStream(&si, js, &sc, nullptr, &jerr);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    return {};
  }
  if (jerr == JSStreamNameExistErr) {
    s = js_UpdateStream(&si, js, &sc, nullptr, &jerr);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return {};
    }
  }
  char buf[256];
  snprintf(buf, sizeof buf, "%s (%s, JetStream error %d)", natsStatus_GetText(s), nats_GetLastError(nullptr), int(jerr));
  return buf;
}

}  // namespace

void NatsLink::ensure_streams() {
  if (stopping_ || !js_) return;
  if (!nats_up()) return;  // again when connected
  const int64_t ns = 1'000'000'000;
  const jsStorageType storage = config_.storage == "memory" ? js_MemoryStorage : js_FileStorage;
  std::string err;
  {
    std::string subj = prefix_ + "m1.>";
    const char* subjects[] = {subj.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream_msgs_.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = storage;
    sc.Replicas = config_.replicas;
    sc.MaxAge = int64_t{config_.stream_max_age} * ns;
    sc.MaxBytes = config_.stream_max_bytes ? static_cast<int64_t>(config_.stream_max_bytes) : -1;
    sc.Duplicates = 120 * ns;  // a message sent again (lost acknowledgement) within 2 min is stored once
    sc.Discard = js_DiscardOld;
    err = add_or_update_stream(js_, sc);
  }
  if (err.empty()) {
    std::string subj = prefix_ + "r.>";
    const char* subjects[] = {subj.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream_retained_.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = storage;
    sc.Replicas = config_.replicas;
    sc.MaxMsgsPerSubject = 1;  // the retained message of each topic, nothing older
    sc.Duplicates = 120 * ns;
    err = add_or_update_stream(js_, sc);
  }
  if (err.empty() && hold_enabled_ && !hold_ready_) {
    // Held messages: as many per topic, as many bytes in all, as hold_max_* say for one node.
    const broker::BrokerConfig& bc = broker_.config();
    std::string subj = prefix_ + "h.>";
    const char* subjects[] = {subj.c_str()};
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    sc.Name = stream_hold_.c_str();
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    sc.Storage = storage;
    sc.Replicas = config_.replicas;
    sc.MaxMsgsPerSubject = bc.hold_max_messages_per_topic ? bc.hold_max_messages_per_topic : -1;
    sc.MaxBytes = bc.hold_max_bytes ? static_cast<int64_t>(bc.hold_max_bytes) : -1;
    sc.Discard = js_DiscardOld;
    sc.Duplicates = 120 * ns;
    err = add_or_update_stream(js_, sc);
    if (err.empty()) hold_ready_ = true;
  }
  if (err.empty() && !kv_) {
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = bucket_sessions_.c_str();
    kc.History = 1;
    kc.Replicas = static_cast<int>(config_.replicas);
    kc.StorageType = storage;
    natsStatus s = js_CreateKeyValue(&kv_, js_, &kc);
    if (s != NATS_OK) s = js_KeyValue(&kv_, js_, bucket_sessions_.c_str());
    if (s != NATS_OK) {
      kv_ = nullptr;
      err = std::string("session bucket: ") + natsStatus_GetText(s) + " (" + nats_GetLastError(nullptr) + ")";
    }
  }
  if (!err.empty()) {
    LOG_WARN("cluster: JetStream streams not ready (%s); retrying in 1 s", err.c_str());
    tasks_.post_after(util::Millis(1000), [this] { ensure_streams(); });
    return;
  }
  kv_ready_ = true;
  if (!streams_ready_.exchange(true)) {
    LOG_INFO("cluster: JetStream streams %s and %s ready (%s, %u replica(s)), session bucket %s", stream_msgs_.c_str(),
             stream_retained_.c_str(), config_.storage.c_str(), config_.replicas, bucket_sessions_.c_str());
    start_retained_mirror();
    for (const std::string& key : interest_.keys()) reconcile(key, 0);
    if (!checkpoints_started_) {
      checkpoints_started_ = true;
      tasks_.post_after(util::Millis(int64_t{config_.checkpoint_interval} * 1000), [this] { checkpoint(true); });
    }
  }
}

// ---------------------------------------------------------------- peers, $SYS

void NatsLink::heartbeat() {
  if (stopping_) return;
  char body[160];
  int n = snprintf(body, sizeof body, "%s %016" PRIx64, config_.node.c_str(), instance_);
  natsConnection_Publish(nc_, (prefix_ + "ctl.hb").c_str(), body, n);
  {
    std::lock_guard lock(dedupe_mu_);
    dedupe_.forget_idle(util::now() - util::Seconds(600));
  }
  tasks_.post_after(util::Millis(1000), [this] { heartbeat(); });
}

void NatsLink::on_heartbeat(natsMsg* m) {
  std::string body(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
  size_t sp = body.find(' ');
  if (sp == std::string::npos) return;
  std::string name = body.substr(0, sp);
  uint64_t inst = strtoull(body.c_str() + sp + 1, nullptr, 16);
  if (inst == instance_) return;
  std::lock_guard lock(peers_mu_);
  Peer& p = peers_[name];
  if (p.instance != inst) {
    if (p.instance) LOG_INFO("cluster: node '%s' restarted (instance %016" PRIx64 ")", name.c_str(), inst);
    else LOG_INFO("cluster: node '%s' seen (instance %016" PRIx64 ")", name.c_str(), inst);
    p.instance = inst;
  }
  p.seen = util::now();
}

void NatsLink::sys_values(std::vector<std::pair<std::string, std::string>>& out) {
  const std::string base = "$SYS/broker/cluster/";
  auto put = [&](const char* name, std::string v) { out.emplace_back(base + name, std::move(v)); };
  int st = nc_ ? static_cast<int>(natsConnection_Status(nc_)) : NATS_CONN_STATUS_CLOSED;
  char url[256] = "";
  if (nc_ && st == NATS_CONN_STATUS_CONNECTED) natsConnection_GetConnectedUrl(nc_, url, sizeof url);
  std::string peers;
  size_t alive = 0;
  {
    std::lock_guard lock(peers_mu_);
    auto recent = util::now() - util::Seconds(5);
    for (const auto& [name, p] : peers_) {
      if (p.seen < recent) continue;
      ++alive;
      peers += (peers.empty() ? "" : ",") + name;
    }
  }
  put("node", config_.node);
  put("nats/state", state_name(st));
  put("nats/server", url);
  put("nats/disconnects", std::to_string(disconnects_.load()));
  put("jetstream", streams_ready_ ? "ready" : "not ready");
  put("peers", std::to_string(alive));
  put("peers/list", peers);
  put("messages/out", std::to_string(out_.load()));
  put("messages/in", std::to_string(in_.load()));
  put("messages/duplicates", std::to_string(duplicates_.load()));
  put("messages/pending", std::to_string(acks_.outstanding()));
  put("messages/retried", std::to_string(retries_.load()));
  put("messages/lost", std::to_string(lost_.load()));
  put("messages/malformed", std::to_string(malformed_.load()));
  put("subscriptions", std::to_string(interest_.size()));
  put("sessions/moved_in", std::to_string(adopted_.load()));
  put("sessions/rebuilt", std::to_string(recovered_.load()));
  put("sessions/moved_out", std::to_string(handed_over_.load()));
  put("sessions/taken_over", std::to_string(takeovers_.load()));
  put("readers/restarted", std::to_string(resets_.load()));
  if (hold_enabled_) {
    put("hold/held", std::to_string(held_out_.load()));
    put("hold/delivered", std::to_string(held_in_.load()));
  }
}

}  // namespace musqratt::cluster
