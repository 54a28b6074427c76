#include "web/prometheus_writer.h"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace musqratt::web {
namespace {

bool name_char(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::Counter: return "counter";
    case MetricType::Gauge: return "gauge";
    case MetricType::Histogram: return "histogram";
    case MetricType::Untyped: return "untyped";
  }
  return "untyped";
}

}  // namespace

bool PrometheusWriter::valid_metric_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, true)) return false;
  return true;
}

bool PrometheusWriter::valid_label_name(std::string_view name) {
  if (name.empty() || name.starts_with("__")) return false;  // "__" is reserved
  for (size_t i = 0; i < name.size(); ++i)
    if (!name_char(name[i], i == 0, false)) return false;
  return true;
}

void PrometheusWriter::family(std::string_view name, MetricType type, std::string_view help) {
  if (!valid_metric_name(name)) throw std::logic_error("bad metric name: " + std::string(name));
  if (type == MetricType::Counter && !name.ends_with("_total"))
    throw std::logic_error("counter name without _total: " + std::string(name));
  if (type != MetricType::Counter && name.ends_with("_total"))
    throw std::logic_error("_total on a non-counter: " + std::string(name));
  const std::string key = "\n" + std::string(name) + "\n";
  if (("\n" + seen_).find(key) != std::string::npos)
    throw std::logic_error("metric family written twice: " + std::string(name));
  seen_ += std::string(name) + "\n";
  current_ = name;
  type_ = type;
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  // HELP text escapes backslash and line feed.
  for (char c : help) {
    if (c == '\\') out_ += "\\\\";
    else if (c == '\n') out_ += "\\n";
    else out_ += c;
  }
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += type_name(type);
  out_ += '\n';
}

void PrometheusWriter::write_labels(MetricLabels labels, std::string_view extra_name, std::string_view extra_value) {
  if (labels.empty() && extra_name.empty()) return;
  out_ += '{';
  bool first = true;
  auto one = [&](std::string_view n, std::string_view v) {
    if (!valid_label_name(n)) throw std::logic_error("bad label name: " + std::string(n));
    if (!first) out_ += ',';
    first = false;
    out_ += n;
    out_ += "=\"";
    // Label values escape backslash, double quote and line feed.
    for (char c : v) {
      if (c == '\\') out_ += "\\\\";
      else if (c == '"') out_ += "\\\"";
      else if (c == '\n') out_ += "\\n";
      else out_ += c;
    }
    out_ += '"';
  };
  for (const MetricLabel& l : labels) one(l.name, l.value);
  if (!extra_name.empty()) one(extra_name, extra_value);
  out_ += '}';
}

void PrometheusWriter::write_value(double v) {
  if (std::isnan(v)) {
    out_ += "NaN";
  } else if (std::isinf(v)) {
    out_ += v > 0 ? "+Inf" : "-Inf";
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
    out_.append(buf, r.ptr);
  }
}

void PrometheusWriter::write_value(uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
}

void PrometheusWriter::sample(MetricLabels labels, double value) {
  if (current_.empty() || type_ == MetricType::Histogram) throw std::logic_error("sample outside a family");
  out_ += current_;
  write_labels(labels);
  out_ += ' ';
  write_value(value);
  out_ += '\n';
}

void PrometheusWriter::sample(MetricLabels labels, uint64_t value) {
  if (current_.empty() || type_ == MetricType::Histogram) throw std::logic_error("sample outside a family");
  out_ += current_;
  write_labels(labels);
  out_ += ' ';
  write_value(value);
  out_ += '\n';
}

void PrometheusWriter::histogram(MetricLabels labels, const HistogramValue& h) {
  if (type_ != MetricType::Histogram) throw std::logic_error("histogram outside a histogram family");
  if (h.upper_bounds.size() != h.cumulative_counts.size()) throw std::logic_error("histogram bounds and counts differ");
  char le[32];
  for (size_t i = 0; i < h.upper_bounds.size(); ++i) {
    auto r = std::to_chars(le, le + sizeof le, h.upper_bounds[i]);
    out_ += current_;
    out_ += "_bucket";
    write_labels(labels, "le", std::string_view(le, r.ptr));
    out_ += ' ';
    write_value(h.cumulative_counts[i]);
    out_ += '\n';
  }
  out_ += current_;
  out_ += "_bucket";
  write_labels(labels, "le", "+Inf");
  out_ += ' ';
  write_value(h.count);
  out_ += '\n';
  out_ += current_;
  out_ += "_sum";
  write_labels(labels);
  out_ += ' ';
  write_value(h.sum);
  out_ += '\n';
  out_ += current_;
  out_ += "_count";
  write_labels(labels);
  out_ += ' ';
  write_value(h.count);
  out_ += '\n';
}

void PrometheusWriter::counter(std::string_view name, std::string_view help, uint64_t value) {
  family(name, MetricType::Counter, help);
  sample(value);
}

void PrometheusWriter::gauge(std::string_view name, std::string_view help, double value) {
  family(name, MetricType::Gauge, help);
  sample(value);
}

void PrometheusWriter::gauge(std::string_view name, std::string_view help, uint64_t value) {
  family(name, MetricType::Gauge, help);
  sample(value);
}

}  // namespace musqratt::web
