#pragma once
// How many worker threads the broker starts when the configuration says 0.
namespace musqratt::app {

/// CPUs this process may run on (its affinity mask: taskset, a container's cpuset), at least 1.
unsigned usable_cpus();

/// One worker per usable CPU but one, at least one. The core left over is for what shares
/// the machine with the broker: the kernel's network processing of every message, the
/// broker's own helper threads (password checks, persistence, the cluster link) and, on an
/// edge box, the very processes that publish and subscribe. Measured on 2 CPUs with the
/// clients on the same machine (docs/performance-analysis.md): one worker beat two in
/// throughput at QoS 1/2, tail latency with 10 000 clients and CPU per message.
unsigned default_workers(unsigned cpus);

}  // namespace musqratt::app
