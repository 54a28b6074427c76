# Sourced by the bench scripts: how each broker is configured for a comparison run. The rule:
# each broker's default settings apart from
#   - the listener: 127.0.0.1 on the given port, anonymous clients allowed;
#   - queues: unlimited, or the largest value the broker's configuration accepts;
#   - logging: warnings only (so 10 000 connection notices are not written out during a run);
#   - Mosquitto: set_tcp_nodelay true (Nagle's algorithm otherwise adds tens of ms to its
#     latency at low rates; FlashMQ and MusQraTT set TCP_NODELAY themselves).
# Extra lines for one broker (e.g. "user root" for Mosquitto under valgrind) come as $2.

# FlashMQ: max_qos_msg_pending_per_client is a 16-bit count (65535 at most); QoS 0 messages
# for a client that reads too slowly are dropped once its write buffer is full, so the write
# buffer limit (client_max_write_buffer_size) is its QoS 0 queue and is raised as well.
flashmq_config() {  # port [extra lines]
  cat <<CONF
log_level warning
allow_anonymous true
max_qos_msg_pending_per_client 65535
max_qos_bytes_pending_per_client 4294967295
client_max_write_buffer_size 4294967295
${2:-}
listen {
  protocol mqtt
  inet_protocol ip4
  inet4_bind_address 127.0.0.1
  port $1
}
CONF
}

# Mosquitto: max_queued_messages 0 = no limit (max_queued_bytes is unlimited by default).
mosquitto_config() {  # port [extra lines]
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nlog_dest none\nmax_queued_messages 0\nset_tcp_nodelay true\n%s\n' \
    "$1" "${2:-}"
}

# MusQraTT: --max-queued-messages 0 and --max-queued-bytes 0 = no limit (its default byte limit
# is 16 MiB per client: without the flag a 16 KiB stream to a slow subscriber drops QoS 0
# messages the other two brokers keep). Every bench script that starts MusQraTT takes its queue
# flags from here, so the rule is written once.
MUSQRATT_UNLIMITED_QUEUES="--max-queued-messages 0 --max-queued-bytes 0"
musqratt_args() {  # port
  echo "--listen 127.0.0.1:$1 --log-level warn $MUSQRATT_UNLIMITED_QUEUES"
}
