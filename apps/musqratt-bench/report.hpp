// Output: live progress line on stderr, the human-readable table and the JSON object.
#pragma once
#include <cstdint>
#include <cstdio>

#include "options.hpp"

namespace mqb {

struct Results;

class Progress {
 public:
  explicit Progress(const Options& o);
  void connecting(const char* what, uint64_t ok, uint64_t failed, uint64_t target);
  void holding(uint64_t connections, double left_s);
  void running(uint64_t sent, uint64_t delivered, double elapsed_s);
  void draining(uint64_t sent, uint64_t delivered, uint64_t expected);
  void done();

 private:
  bool due();
  void line(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  bool enabled_;
  int64_t next_ = 0;
  uint64_t last_sent_ = 0, last_delivered_ = 0;
  int64_t last_t_ = 0;
  bool printed_ = false;
};

void print_table(std::FILE* f, const Options& o, const Results& r);
void print_json(std::FILE* f, const Options& o, const Results& r);

}  // namespace mqb
