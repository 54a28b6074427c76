// musqratt-bench: MQTT load generator (see --help).
#include <csignal>
#include <cstdio>
#include <exception>

#include "options.hpp"
#include "report.hpp"
#include "scenario.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  mqb::Options o;
  if (int rc = mqb::parse_options(argc, argv, o)) return rc == 1 ? 0 : 2;
  mqb::Results r;
  try {
    r = mqb::run_scenario(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "musqratt-bench: %s\n", e.what());
    return 3;
  }
  if (!r.error.empty()) {
    std::fprintf(stderr, "musqratt-bench: %s\n", r.error.c_str());
    return 3;
  }
  if (o.json) mqb::print_json(stdout, o, r);
  else mqb::print_table(stdout, o, r);
  std::fflush(stdout);
  if (r.connect_errors) return 3;
  if (o.expect_no_loss && (r.lost || r.disconnects)) return 1;
  return 0;
}
