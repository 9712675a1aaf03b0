#include "bench/common/report.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <utility>

#include "base/strings.h"

namespace hpo::bench {

Value Opt(const std::optional<double>& v) {
  if (!v) return std::monostate{};
  return *v;
}

namespace {

std::string JsonValue(const Value& v) {
  if (const auto* s = std::get_if<std::string>(&v)) return JsonQuote(*s);
  if (const auto* d = std::get_if<double>(&v)) return std::isfinite(*d) ? FormatDouble(*d) : "null";
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  return "null";
}

std::string Printf(const char* format, int precision, double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, precision, v);
  return buffer;
}

}  // namespace

void Reporter::Note(const std::string& section, const std::string& text) const {
  if (json_) {
    std::printf("{\"section\":%s,\"note\":%s}\n", JsonQuote(section).c_str(), JsonQuote(text).c_str());
  } else {
    std::printf("%s\n", text.c_str());
  }
  std::fflush(stdout);
}

Table::Table(const Reporter& reporter, std::string section, std::string name, std::string title,
             std::vector<Column> columns)
    : reporter_(reporter),
      section_(std::move(section)),
      name_(std::move(name)),
      title_(std::move(title)),
      columns_(std::move(columns)) {}

Table::~Table() { Print(); }

std::string Table::Cell(size_t column, const Value& v) const {
  if (std::holds_alternative<std::monostate>(v)) return "-";
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
  const double d = std::get<double>(v);
  if (std::isnan(d)) return "nan";
  const Column& c = columns_[column];
  switch (c.format) {
    case Column::Format::kFixed:
      return Printf("%.*f", c.precision, d);
    case Column::Format::kSci:
      return Printf("%.*e", c.precision, d);
    case Column::Format::kRatio:
      return Printf("%.*f", c.precision, d) + "x";
    case Column::Format::kText:
    case Column::Format::kAuto:
      break;
  }
  return Printf("%.*g", c.precision, d);
}

void Table::Add(std::vector<Value> row) {
  assert(row.size() == columns_.size());
  row.resize(columns_.size());
  if (reporter_.json()) {
    std::string line = "{\"section\":";
    line += JsonQuote(section_);
    line += ",\"table\":";
    line += JsonQuote(name_);
    for (size_t i = 0; i < columns_.size(); ++i) {
      line += ',';
      line += JsonQuote(columns_[i].key);
      line += ':';
      line += JsonValue(row[i]);
    }
    line += '}';
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    return;
  }
  std::vector<std::string> cells;
  cells.reserve(row.size());
  for (size_t i = 0; i < row.size(); ++i) cells.push_back(Cell(i, row[i]));
  rows_.push_back(std::move(cells));
}

void Table::Print() {
  if (reporter_.json() || rows_.empty()) {
    rows_.clear();
    return;
  }
  std::vector<size_t> width(columns_.size());
  for (size_t i = 0; i < columns_.size(); ++i) width[i] = columns_[i].header.size();
  for (const auto& r : rows_) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      const bool left = columns_[i].format == Column::Format::kText;
      const std::string pad(width[i] - cells[i].size(), ' ');
      if (i > 0) out += "  ";
      out += left ? cells[i] + (i + 1 < cells.size() ? pad : "") : pad + cells[i];
    }
    std::printf("%s\n", out.c_str());
  };
  std::printf("\n%s\n", title_.c_str());
  std::vector<std::string> headers;
  for (const auto& c : columns_) headers.push_back(c.header);
  line(headers);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows_) line(r);
  std::fflush(stdout);
  rows_.clear();
}

Summary Summarize(std::vector<double> values) {
  Summary s;
  s.count = values.size();
  if (values.empty()) {
    s.median = s.min = s.max = s.mean = std::nan("");
    return s;
  }
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  s.min = values.front();
  s.max = values.back();
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(n);
  return s;
}

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

Stopwatch::Stopwatch() : wall_start_(std::chrono::steady_clock::now()), cpu_start_(ProcessCpuSeconds()) {}

double Stopwatch::WallSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start_).count();
}

double Stopwatch::CpuSeconds() const { return ProcessCpuSeconds() - cpu_start_; }

LoadAverage ReadLoadAverage() {
  LoadAverage l;
  std::ifstream in("/proc/loadavg");
  if (!(in >> l.one >> l.five >> l.fifteen)) l = LoadAverage{};
  return l;
}

std::string LoadAverageText() {
  const LoadAverage l = ReadLoadAverage();
  if (l.one < 0) return "unknown";
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.2f %.2f %.2f", l.one, l.five, l.fifteen);
  return buffer;
}

double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu")
    return -1;
  return (user + nice + system + irq + softirq + steal) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::vector<Column> WithRunTimeColumns(std::vector<Column> columns) {
  columns.push_back({"wall_median_s", "wall med s", Column::Format::kFixed, 3});
  columns.push_back({"wall_min_s", "wall min", Column::Format::kFixed, 3});
  columns.push_back({"wall_max_s", "wall max", Column::Format::kFixed, 3});
  columns.push_back({"cpu_median_s", "cpu med s", Column::Format::kFixed, 3});
  return columns;
}

}  // namespace hpo::bench
