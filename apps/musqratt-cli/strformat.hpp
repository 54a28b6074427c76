#pragma once
// A small subset of std::format, which GCC 12's libstdc++ lacks: "{}" placeholders with
// optional specs of the form [<|>][0][width][x|g], "{{" and "}}" escapes.

#include <sstream>
#include <string>
#include <string_view>
#include <type_traits>

namespace musqratt::cli {
namespace detail {

template <class T>
void format_one(std::ostringstream& out, std::string_view spec, const T& value) {
  std::ostringstream field;
  std::size_t i = 0;
  char align = 0;
  if (i < spec.size() && (spec[i] == '<' || spec[i] == '>')) align = spec[i++];
  bool zero = i < spec.size() && spec[i] == '0';
  if (zero) ++i;
  std::size_t width = 0;
  while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9') width = width * 10 + (spec[i++] - '0');
  char type = i < spec.size() ? spec[i] : 0;
  if (type == 'x') field << std::hex;
  if constexpr (std::is_same_v<T, bool>)
    field << (value ? "true" : "false");
  else if constexpr (std::is_same_v<T, char> || std::is_same_v<T, signed char>)
    field << value;
  else if constexpr (std::is_integral_v<T>)
    field << static_cast<long long>(value);
  else
    field << value;
  std::string text = field.str();
  if (text.size() < width) {
    std::string pad(width - text.size(), zero ? '0' : ' ');
    bool left = align == '<' || (align == 0 && !zero && !std::is_arithmetic_v<T>);
    text = left ? text + pad : pad + text;
  }
  out << text;
}

inline void format_rest(std::ostringstream& out, std::string_view fmt) {
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    out << fmt[i];
    if ((fmt[i] == '{' || fmt[i] == '}') && i + 1 < fmt.size() && fmt[i + 1] == fmt[i]) ++i;
  }
}

template <class T, class... Rest>
void format_rest(std::ostringstream& out, std::string_view fmt, const T& value,
                 const Rest&... rest) {
  for (std::size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if ((c == '{' || c == '}') && i + 1 < fmt.size() && fmt[i + 1] == c) {
      out << c;
      ++i;
    } else if (c == '{') {
      std::size_t close = fmt.find('}', i);
      std::string_view inner = fmt.substr(i + 1, close - i - 1);
      std::string_view spec = inner.starts_with(':') ? inner.substr(1) : std::string_view{};
      format_one(out, spec, value);
      format_rest(out, fmt.substr(close + 1), rest...);
      return;
    } else {
      out << c;
    }
  }
}

}  // namespace detail

/// Formats like std::format for the subset described above.
template <class... Args>
std::string strformat(std::string_view fmt, const Args&... args) {
  std::ostringstream out;
  detail::format_rest(out, fmt, args...);
  return out.str();
}

}  // namespace musqratt::cli
