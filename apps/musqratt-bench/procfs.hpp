// Readings from /proc: another process's CPU time and memory, this process's CPU time, and the
// bytes a TCP connection holds in kernel queues. Linux only; every reader returns -1 when the
// file or field is missing (the process ended, no permission).
#pragma once
#include <sys/socket.h>

#include <cstdint>

namespace mqb::procfs {

// utime + stime of process pid (all its threads) in seconds, from /proc/PID/stat.
double cpu_seconds(int pid);
// user + system CPU time of this process (all threads) in seconds.
double self_cpu_seconds();
// A "Name:   N kB" line of /proc/PID/status (VmRSS, VmHWM), in KiB.
int64_t status_kb(int pid, const char* key);

// Send queue (bytes written but not yet acknowledged by the peer) of the socket whose local
// address is `local` and whose peer is `remote`, from /proc/net/tcp and /proc/net/tcp6.
// Used on loopback to read the broker's side of a connection the generator holds.
int64_t tcp_send_queue(const sockaddr_storage& local, const sockaddr_storage& remote);

}  // namespace mqb::procfs
