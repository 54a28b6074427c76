#pragma once
// The Prometheus text exposition format, version 0.0.4: a builder that writes each metric
// family once, with its # HELP and # TYPE lines, and escapes what needs escaping.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace musqratt::web {

enum class MetricType : uint8_t { Counter, Gauge, Histogram, Untyped };

struct MetricLabel {
  std::string_view name;
  std::string_view value;
};
using MetricLabels = std::span<const MetricLabel>;

/// One histogram's figures: cumulative counts per upper bound (ascending, +Inf implied and
/// equal to `count`), the sum and the count of observations.
struct HistogramValue {
  std::span<const double> upper_bounds;
  std::span<const uint64_t> cumulative_counts;  // same size as upper_bounds
  double sum = 0;
  uint64_t count = 0;
};

/// Thread: one owner. Usage: family(...) then its samples, family by family; take() the text.
/// Names are checked against the format's rules (a wrong one is a programming error:
/// std::logic_error), counters must end in _total as the naming conventions ask, and a
/// family may not be written twice.
class PrometheusWriter {
 public:
  /// Starts a family: "# HELP name help" and "# TYPE name type". For a counter, `name` is the
  /// sample name with its _total suffix.
  void family(std::string_view name, MetricType type, std::string_view help);
  /// A sample of the current family (Counter, Gauge, Untyped).
  void sample(MetricLabels labels, double value);
  void sample(MetricLabels labels, uint64_t value);
  void sample(double value) { sample(MetricLabels{}, value); }
  void sample(uint64_t value) { sample(MetricLabels{}, value); }
  void sample(std::initializer_list<MetricLabel> labels, uint64_t value) {
    sample(MetricLabels(labels.begin(), labels.size()), value);
  }
  void sample(std::initializer_list<MetricLabel> labels, double value) {
    sample(MetricLabels(labels.begin(), labels.size()), value);
  }
  /// One histogram of the current family (Histogram): _bucket{le=...}, _sum, _count.
  void histogram(MetricLabels labels, const HistogramValue& h);

  /// Shorthands: a family with one unlabelled sample.
  void counter(std::string_view name, std::string_view help, uint64_t value);
  void gauge(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, uint64_t value);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

  /// The Content-Type of this format.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

  static bool valid_metric_name(std::string_view name);
  static bool valid_label_name(std::string_view name);

 private:
  void write_labels(MetricLabels labels, std::string_view extra_name = {}, std::string_view extra_value = {});
  void write_value(double v);
  void write_value(uint64_t v);

  std::string out_;
  std::string current_;
  MetricType type_ = MetricType::Untyped;
  std::string seen_;  // "\n"-separated family names written so far
};

}  // namespace musqratt::web
