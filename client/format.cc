#include "client/format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/strings.h"
#include "client/front.h"
#include "client/progress.h"

namespace hpo::client {
namespace {

constexpr int kTableSignificantDigits = 4;
constexpr size_t kMaxErrorWidth = 80;
constexpr std::string_view kColumnGap = "  ";
constexpr std::string_view kMissingInTable = "-";

// One cell's value, before it is written in a format.
struct Value {
  enum class Kind { kMissing, kDouble, kInt, kString };
  Kind kind = Kind::kMissing;
  double d = 0;
  int64_t i = 0;
  std::string s;

  static Value Double(double v) { return {Kind::kDouble, v, 0, {}}; }
  static Value Int(int64_t v) { return {Kind::kInt, 0, v, {}}; }
  static Value String(std::string v) { return {Kind::kString, 0, 0, std::move(v)}; }
};

// The objective and parameter columns of a list of trials (see format.h).
struct Columns {
  std::vector<std::string> objectives;
  std::vector<std::string> params;
};

// True when `a` sorts before `b` with digit runs compared as numbers ("x2" < "x10").
bool NaturalLess(std::string_view a, std::string_view b) {
  auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      size_t ei = i, ej = j;
      while (ei < a.size() && is_digit(a[ei])) ++ei;
      while (ej < b.size() && is_digit(b[ej])) ++ej;
      std::string_view da = a.substr(i, ei - i), db = b.substr(j, ej - j);
      while (da.size() > 1 && da.front() == '0') da.remove_prefix(1);
      while (db.size() > 1 && db.front() == '0') db.remove_prefix(1);
      if (da.size() != db.size()) return da.size() < db.size();
      if (da != db) return da < db;
      i = ei;
      j = ej;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  if ((a.size() - i) != (b.size() - j)) return (a.size() - i) < (b.size() - j);
  return a < b;  // equal up to leading zeros: any fixed tie-break
}

// Names in `found` that are not in `known`, in natural order, appended to `out`.
void AppendExtraNames(const std::set<std::string>& found, std::vector<std::string>* out) {
  std::vector<std::string> extra;
  for (const std::string& name : found) {
    if (std::find(out->begin(), out->end(), name) == out->end()) extra.push_back(name);
  }
  std::sort(extra.begin(), extra.end(),
            [](const std::string& a, const std::string& b) { return NaturalLess(a, b); });
  out->insert(out->end(), extra.begin(), extra.end());
}

Columns ResolveColumns(const v1::StudySpec& spec,
                       const google::protobuf::RepeatedPtrField<v1::Objective>& fallback_objectives,
                       const google::protobuf::RepeatedPtrField<v1::Trial>& trials) {
  Columns columns;
  for (const v1::Objective& objective : spec.objectives()) columns.objectives.push_back(objective.name());
  if (columns.objectives.empty()) {
    for (const v1::Objective& objective : fallback_objectives) {
      columns.objectives.push_back(objective.name());
    }
  }
  if (columns.objectives.empty()) {
    std::set<std::string> metrics;
    for (const v1::Trial& trial : trials) {
      for (const auto& [name, value] : trial.metrics()) metrics.insert(name);
    }
    AppendExtraNames(metrics, &columns.objectives);
  }
  for (const v1::Parameter& parameter : spec.parameters()) columns.params.push_back(parameter.name());
  std::set<std::string> params;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.params()) params.insert(name);
  }
  AppendExtraNames(params, &columns.params);
  return columns;
}

Value MetricValue(const v1::Trial& trial, const std::string& name) {
  const auto it = trial.metrics().find(name);
  if (it == trial.metrics().end()) return {};
  return Value::Double(it->second);
}

Value ParamValueOf(const v1::Trial& trial, const std::string& name) {
  const auto it = trial.params().find(name);
  if (it == trial.params().end()) return {};
  const v1::ParamValue& value = it->second;
  switch (value.kind_case()) {
    case v1::ParamValue::kDoubleValue:
      return Value::Double(value.double_value());
    case v1::ParamValue::kIntValue:
      return Value::Int(value.int_value());
    case v1::ParamValue::kStringValue:
      return Value::String(value.string_value());
    case v1::ParamValue::KIND_NOT_SET:
      break;
  }
  return {};
}

// The trial's objective values then parameter values, in column order.
std::vector<Value> RowValues(const v1::Trial& trial, const Columns& columns) {
  std::vector<Value> row;
  row.reserve(columns.objectives.size() + columns.params.size());
  for (const std::string& name : columns.objectives) row.push_back(MetricValue(trial, name));
  for (const std::string& name : columns.params) row.push_back(ParamValueOf(trial, name));
  return row;
}

std::string IntText(int64_t v) {
  std::array<char, 24> buffer;
  const auto [end, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), v);
  (void)ec;
  return std::string(buffer.data(), end);
}

// ---- CSV ----

// A text field, quoted per RFC 4180 when it holds a comma, a quote or a line break, or begins or ends with
// a blank. A CSV file is read in a terminal as often as by a program: a line break ('\n') is kept, inside
// the quotes, so that a program reads the text back; every other control or bidirectional character is
// escaped as for a terminal (EscapeForTerminal: a '\r' would overwrite the line, an ESC drive the
// terminal).
std::string CsvField(std::string_view raw) {
  std::string text;
  for (size_t start = 0;;) {
    const size_t end = raw.find('\n', start);
    text += EscapeForTerminal(raw.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    text += '\n';
    start = end + 1;
  }
  const bool quoted = text.find_first_of(",\"\n") != std::string::npos ||
                      (!text.empty() && (text.front() == ' ' || text.back() == ' '));
  if (!quoted) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string CsvValue(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kMissing:
      return "";
    case Value::Kind::kDouble:
      return FormatDouble(value.d, DoubleLayout::kPython);
    case Value::Kind::kInt:
      return IntText(value.i);
    case Value::Kind::kString:
      return CsvField(value.s);
  }
  return "";
}

// ---- JSON ----

void AppendJsonValue(const Value& value, std::string* out) {
  switch (value.kind) {
    case Value::Kind::kMissing:
      *out += "null";
      return;
    case Value::Kind::kDouble:
      *out += std::isfinite(value.d) ? FormatDouble(value.d, DoubleLayout::kPython) : "null";
      return;
    case Value::Kind::kInt:
      *out += IntText(value.i);
      return;
    case Value::Kind::kString:
      *out += JsonQuote(value.s);
      return;
  }
}

// {"name": value, ...}: names[k] with values[first + k].
void AppendJsonObject(const std::vector<std::string>& names, const std::vector<Value>& values, size_t first,
                      std::string* out) {
  *out += '{';
  for (size_t k = 0; k < names.size(); ++k) {
    if (k > 0) *out += ", ";
    *out += JsonQuote(names[k]);
    *out += ": ";
    AppendJsonValue(values[first + k], out);
  }
  *out += '}';
}

// ---- tables ----

struct Cell {
  std::string text;
  bool numeric = false;
};

Cell TableCell(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kMissing:
      return {std::string(kMissingInTable), false};
    case Value::Kind::kDouble: {
      // Whole numbers (counts such as params) print whole; the rest to a few significant digits.
      if (std::isfinite(value.d) && value.d == std::trunc(value.d) && std::fabs(value.d) < 1e15) {
        return {IntText(static_cast<int64_t>(value.d)), true};
      }
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.*g", kTableSignificantDigits, value.d);
      return {buffer, true};
    }
    case Value::Kind::kInt:
      return {IntText(value.i), true};
    case Value::Kind::kString:
      return {value.s, false};
  }
  return {};
}

Cell NumberCell(uint64_t v) { return {std::to_string(v), true}; }
Cell TextCell(std::string_view text) { return {std::string(text), false}; }

// The last step a trial reported (ReportProgress), or missing.
Value ProgressStep(const v1::Trial& trial) {
  return trial.has_progress() ? Value::Int(static_cast<int64_t>(trial.progress().step())) : Value{};
}

// Display width: UTF-8 code points (close enough for names and values in a terminal).
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++width;
  }
  return width;
}

// Renders `header` and `rows` as aligned columns: a column whose cells are all numbers (or missing) is
// right-aligned, others left-aligned; no trailing blanks. Every name and text is escaped for the terminal
// (EscapeForTerminal) here, the one place tables are written.
std::string RenderTable(const std::vector<std::string>& raw_header, std::vector<std::vector<Cell>> rows) {
  std::vector<std::string> header;
  header.reserve(raw_header.size());
  for (const std::string& name : raw_header) header.push_back(EscapeForTerminal(name));
  for (auto& row : rows) {
    for (Cell& cell : row) {
      if (!cell.numeric) cell.text = EscapeForTerminal(cell.text);
    }
  }
  const size_t n = header.size();
  std::vector<size_t> width(n, 0);
  std::vector<bool> right(n, true);
  for (size_t c = 0; c < n; ++c) width[c] = DisplayWidth(header[c]);
  for (const auto& row : rows) {
    for (size_t c = 0; c < n; ++c) {
      width[c] = std::max(width[c], DisplayWidth(row[c].text));
      if (!row[c].numeric && row[c].text != kMissingInTable) right[c] = false;
    }
  }
  std::string out;
  auto append_line = [&](const std::vector<std::string_view>& cells) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      if (c > 0) line += kColumnGap;
      const size_t pad = width[c] - DisplayWidth(cells[c]);
      if (right[c]) line.append(pad, ' ');
      line += cells[c];
      if (!right[c]) line.append(pad, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line;
    out += '\n';
  };
  append_line(std::vector<std::string_view>(header.begin(), header.end()));
  for (const auto& row : rows) {
    std::vector<std::string_view> cells;
    cells.reserve(n);
    for (const Cell& cell : row) cells.push_back(cell.text);
    append_line(cells);
  }
  return out;
}

std::vector<std::string> Header(std::vector<std::string> leading, const Columns& columns) {
  leading.insert(leading.end(), columns.objectives.begin(), columns.objectives.end());
  leading.insert(leading.end(), columns.params.begin(), columns.params.end());
  return leading;
}

// The error as one line of at most kMaxErrorWidth code points.
std::string OneLineError(std::string_view error) {
  std::string line;
  bool blank = false;
  for (char c : error) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (c == ' ' && (blank || line.empty())) continue;
    blank = c == ' ';
    line += c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  if (DisplayWidth(line) <= kMaxErrorWidth) return line;
  size_t kept = 0, bytes = 0;
  while (bytes < line.size()) {
    const bool starts_code_point = (static_cast<unsigned char>(line[bytes]) & 0xC0) != 0x80;
    if (starts_code_point && kept == kMaxErrorWidth - 3) break;
    if (starts_code_point) ++kept;
    ++bytes;
  }
  return line.substr(0, bytes) + "...";
}

// The metrics the trials report that are not among `columns.objectives`, in natural order.
std::vector<std::string> OtherMetrics(const google::protobuf::RepeatedPtrField<v1::Trial>& trials,
                                      const Columns& columns) {
  std::set<std::string> metrics;
  for (const v1::Trial& trial : trials) {
    for (const auto& [name, value] : trial.metrics()) metrics.insert(name);
  }
  std::vector<std::string> known = columns.objectives;
  AppendExtraNames(metrics, &known);
  return {known.begin() + static_cast<long>(columns.objectives.size()), known.end()};
}

// A Unix time in ms as "2024-05-01 12:00:03 UTC"; "-" for 0.
std::string UtcTime(int64_t ms) {
  if (ms <= 0) return std::string(kMissingInTable);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buffer;
}

// A message as compact JSON in protobuf's mapping, with the proto's field names.
std::string CompactJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return "?";
  return json;
}

// One line on a parameter's domain: "float [0.0001, 0.1] log", "int [1, 4] step 2", "categorical a, b".
std::string DescribeParameter(const v1::Parameter& parameter) {
  auto number = [](double v) { return FormatDouble(v, DoubleLayout::kPython); };
  std::string text;
  switch (parameter.kind_case()) {
    case v1::Parameter::kFloat: {
      const v1::FloatRange& range = parameter.float_();
      text = "float [" + number(range.low()) + ", " + number(range.high()) + "]";
      if (range.log()) text += " log";
      if (range.step() > 0) text += " step " + number(range.step());
      break;
    }
    case v1::Parameter::kInt: {
      const v1::IntRange& range = parameter.int_();
      text = "int [" + IntText(range.low()) + ", " + IntText(range.high()) + "]";
      if (range.log()) text += " log";
      if (range.step() > 1) text += " step " + IntText(range.step());
      break;
    }
    case v1::Parameter::kCategorical: {
      text = "categorical";
      for (int i = 0; i < parameter.categorical().choices_size(); ++i) {
        text += i == 0 ? " " : ", ";
        text += parameter.categorical().choices(i);
      }
      break;
    }
    case v1::Parameter::KIND_NOT_SET:
      text = "(no domain)";
      break;
  }
  if (parameter.has_condition()) {
    text += "  (when " + parameter.condition().parent() + " is";
    for (int i = 0; i < parameter.condition().values_size(); ++i) {
      text += i == 0 ? " " : " or ";
      text += parameter.condition().values(i);
    }
    text += ")";
  }
  return text;
}

std::string_view DirectionName(v1::Direction direction) {
  return direction == v1::MAXIMIZE ? "maximize" : direction == v1::MINIMIZE ? "minimize" : "unspecified";
}

}  // namespace

Result<OutputFormat> ParseOutputFormat(std::string_view name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "csv") return OutputFormat::kCsv;
  if (name == "json") return OutputFormat::kJson;
  return InvalidArgumentError("format: expected table, csv or json, got '" + std::string(name) + "'");
}

std::string FormatTable(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, front.objectives(), front.trials());
  // For people, the metrics that are not objectives (e.g. test_accuracy) follow the parameters.
  const std::vector<std::string> others = OtherMetrics(front.trials(), columns);
  std::vector<std::vector<Cell>> rows;
  for (const v1::Trial& trial : front.trials()) {
    std::vector<Cell> row = {NumberCell(trial.number())};
    for (const Value& value : RowValues(trial, columns)) row.push_back(TableCell(value));
    for (const std::string& name : others) row.push_back(TableCell(MetricValue(trial, name)));
    rows.push_back(std::move(row));
  }
  std::vector<std::string> header = Header({"trial"}, columns);
  header.insert(header.end(), others.begin(), others.end());
  return RenderTable(header, std::move(rows));
}

std::string FormatCsv(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, front.objectives(), front.trials());
  std::string out = "trial";
  for (const std::string& name : Header({}, columns)) {
    out += ',';
    out += CsvField(name);
  }
  out += '\n';
  for (const v1::Trial& trial : front.trials()) {
    out += std::to_string(trial.number());
    for (const Value& value : RowValues(trial, columns)) {
      out += ',';
      out += CsvValue(value);
    }
    out += '\n';
  }
  return out;
}

std::string FormatJson(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, front.objectives(), front.trials());
  if (front.trials().empty()) return "[]\n";
  std::string out = "[\n";
  for (int t = 0; t < front.trials_size(); ++t) {
    const v1::Trial& trial = front.trials(t);
    const std::vector<Value> values = RowValues(trial, columns);
    out += "  {\"trial\": " + std::to_string(trial.number()) + ", \"objectives\": ";
    AppendJsonObject(columns.objectives, values, 0, &out);
    out += ", \"params\": ";
    AppendJsonObject(columns.params, values, columns.objectives.size(), &out);
    out += t + 1 < front.trials_size() ? "},\n" : "}\n";
  }
  out += "]\n";
  return out;
}

std::string FormatParetoFront(const v1::GetParetoFrontResponse& front, const v1::StudySpec& spec,
                              OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
      return FormatTable(front, spec);
    case OutputFormat::kCsv:
      return FormatCsv(front, spec);
    case OutputFormat::kJson:
      return FormatJson(front, spec);
  }
  return FormatTable(front, spec);
}

// The constraints a trial breaks, joined by `separator`.
std::string JoinViolated(const v1::Trial& trial, const char* separator) {
  std::string out;
  for (const std::string& text : trial.violated()) out += (out.empty() ? "" : separator) + text;
  return out;
}

// The feasible column of a constrained study's trials: "yes", "no: latency_ms <= 2", or "-" for a trial
// that has not completed.
std::string FeasibleText(const v1::Trial& trial) {
  if (trial.state() != v1::TRIAL_COMPLETED) return "-";
  return trial.violated().empty() ? "yes" : "no: " + JoinViolated(trial, ", ");
}

std::string FormatTrialsTable(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, spec.objectives(), trials.trials());
  const bool constrained = spec.constraints_size() > 0;
  std::vector<std::vector<Cell>> rows;
  for (const v1::Trial& trial : trials.trials()) {
    std::vector<Cell> row = {NumberCell(trial.number()), TextCell(TrialStateName(trial.state())),
                             NumberCell(trial.attempt()), TableCell(ProgressStep(trial))};
    for (const Value& value : RowValues(trial, columns)) row.push_back(TableCell(value));
    if (constrained) row.push_back(TextCell(FeasibleText(trial)));
    row.push_back(TextCell(OneLineError(trial.error())));
    rows.push_back(std::move(row));
  }
  std::vector<std::string> header = Header({"trial", "state", "attempt", "step"}, columns);
  if (constrained) header.push_back("feasible");
  header.push_back("error");
  return RenderTable(header, std::move(rows));
}

std::string FormatTrialsCsv(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, spec.objectives(), trials.trials());
  const std::vector<std::string> others = OtherMetrics(trials.trials(), columns);
  std::string out = "trial,id,state,attempt,step";
  for (const std::string& name : Header({}, columns)) out += ',' + CsvField(name);
  for (const std::string& name : others) out += ',' + CsvField(name);
  const bool constrained = spec.constraints_size() > 0;
  out += ",device,worker_id,started_ms,finished_ms,";
  out += constrained ? "violated,error\n" : "error\n";
  auto time_field = [](int64_t ms) { return ms > 0 ? IntText(ms) : std::string(); };
  for (const v1::Trial& trial : trials.trials()) {
    out += std::to_string(trial.number()) + ',' + std::to_string(trial.id()) + ',' +
           std::string(TrialStateName(trial.state())) + ',' + std::to_string(trial.attempt()) + ',' +
           CsvValue(ProgressStep(trial));
    for (const Value& value : RowValues(trial, columns)) out += ',' + CsvValue(value);
    for (const std::string& name : others) out += ',' + CsvValue(MetricValue(trial, name));
    out += ',' + CsvField(trial.device()) + ',' +
           (trial.worker_id() > 0 ? std::to_string(trial.worker_id()) : "") + ',' +
           time_field(trial.started_ms()) + ',' + time_field(trial.finished_ms()) + ',';
    if (constrained) out += CsvField(JoinViolated(trial, "; ")) + ',';
    out += CsvField(trial.error()) + '\n';
  }
  return out;
}

std::string FormatTrialsJson(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec) {
  const Columns columns = ResolveColumns(spec, spec.objectives(), trials.trials());
  const std::vector<std::string> others = OtherMetrics(trials.trials(), columns);
  if (trials.trials().empty()) return "[]\n";
  std::string out = "[\n";
  for (int t = 0; t < trials.trials_size(); ++t) {
    const v1::Trial& trial = trials.trials(t);
    std::vector<Value> values = RowValues(trial, columns);
    out += "  {\"trial\": " + std::to_string(trial.number()) + ", \"id\": " + std::to_string(trial.id()) +
           ", \"state\": " + JsonQuote(TrialStateName(trial.state())) +
           ", \"attempt\": " + std::to_string(trial.attempt()) + ", \"progress\": ";
    // The last progress the trial reported: {"step": N, "metrics": {...}}, or null.
    if (trial.has_progress()) {
      std::vector<std::string> progress_names;
      std::vector<Value> progress_values;
      const std::map<std::string, double> sorted(trial.progress().metrics().begin(),
                                                 trial.progress().metrics().end());
      for (const auto& [name, value] : sorted) {
        progress_names.push_back(name);
        progress_values.push_back(Value::Double(value));
      }
      out += "{\"step\": " + std::to_string(trial.progress().step()) + ", \"metrics\": ";
      AppendJsonObject(progress_names, progress_values, 0, &out);
      out += '}';
    } else {
      out += "null";
    }
    out += ", \"metrics\": ";
    // The objectives, then the other metrics this trial reports.
    std::vector<std::string> names = columns.objectives;
    std::vector<Value> metrics(values.begin(), values.begin() + static_cast<long>(columns.objectives.size()));
    for (const std::string& name : others) {
      Value value = MetricValue(trial, name);
      if (value.kind == Value::Kind::kMissing) continue;
      names.push_back(name);
      metrics.push_back(std::move(value));
    }
    AppendJsonObject(names, metrics, 0, &out);
    out += ", \"params\": ";
    AppendJsonObject(columns.params, values, columns.objectives.size(), &out);
    out += ", \"device\": " + JsonQuote(trial.device()) +
           ", \"worker_id\": " + std::to_string(trial.worker_id()) +
           ", \"started_ms\": " + IntText(trial.started_ms()) +
           ", \"finished_ms\": " + IntText(trial.finished_ms()) + ", \"error\": " + JsonQuote(trial.error());
    if (spec.constraints_size() > 0) {
      out += ", \"violated\": [";
      for (int v = 0; v < trial.violated_size(); ++v)
        out += (v > 0 ? ", " : "") + JsonQuote(trial.violated(v));
      out += ']';
    }
    out += t + 1 < trials.trials_size() ? "},\n" : "}\n";
  }
  out += "]\n";
  return out;
}

std::string FormatTrials(const v1::ListTrialsResponse& trials, const v1::StudySpec& spec,
                         OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
      return FormatTrialsTable(trials, spec);
    case OutputFormat::kCsv:
      return FormatTrialsCsv(trials, spec);
    case OutputFormat::kJson:
      return FormatTrialsJson(trials, spec);
  }
  return FormatTrialsTable(trials, spec);
}

Result<std::vector<v1::TrialState>> ParseTrialStates(std::string_view text) {
  static constexpr v1::TrialState kStates[] = {v1::TRIAL_PENDING, v1::TRIAL_RUNNING, v1::TRIAL_COMPLETED,
                                               v1::TRIAL_PRUNED,  v1::TRIAL_FAILED,  v1::TRIAL_CANCELLED};
  std::vector<v1::TrialState> states;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    const std::string_view name =
        Trim(text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    const auto* found = std::find_if(std::begin(kStates), std::end(kStates),
                                     [&](v1::TrialState state) { return TrialStateName(state) == name; });
    if (found == std::end(kStates)) {
      return InvalidArgumentError("--state: unknown state '" + std::string(name) +
                                  "'; expected pending, running, completed, pruned, failed or cancelled");
    }
    if (std::find(states.begin(), states.end(), *found) == states.end()) states.push_back(*found);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return states;
}

v1::ListTrialsResponse FilterTrials(const v1::ListTrialsResponse& trials,
                                    const std::vector<v1::TrialState>& states) {
  if (states.empty()) return trials;
  v1::ListTrialsResponse kept;
  for (const v1::Trial& trial : trials.trials()) {
    if (std::find(states.begin(), states.end(), trial.state()) != states.end()) *kept.add_trials() = trial;
  }
  return kept;
}

std::string FormatStudySummary(const v1::Study& study, const v1::GetParetoFrontResponse* front) {
  const v1::StudySpec& spec = study.spec();
  const v1::TrialCounts& counts = study.counts();
  std::vector<std::pair<std::string, std::string>> rows;
  rows.emplace_back("study", std::to_string(study.id()));
  rows.emplace_back("name", spec.name().empty() ? std::string(kMissingInTable) : spec.name());
  rows.emplace_back("state", std::string(StudyStateName(study.state())));
  rows.emplace_back("created", UtcTime(study.created_ms()));
  rows.emplace_back("finished", UtcTime(study.finished_ms()));
  if (study.first_trial_started_ms() > 0) {
    rows.emplace_back("first trial", UtcTime(study.first_trial_started_ms()) + " (" +
                                         FormatElapsed(study.first_trial_started_ms() - study.created_ms()) +
                                         " after creation)");
  }
  if (study.created_ms() > 0 && study.finished_ms() > 0) {
    rows.emplace_back("took", FormatTook(study));
  } else if (study.created_ms() > 0) {
    const int64_t now_ms = SystemClock::Default()->NowMs();
    rows.emplace_back("elapsed", FormatElapsed(now_ms - study.created_ms()));
    if (const std::optional<int64_t> left = EstimateRemainingMs(study, now_ms)) {
      rows.emplace_back("time left",
                        "about " + FormatElapsed(*left) + " (at the pace since the first trial)");
    }
  }
  if (!study.waiting().empty()) rows.emplace_back("waiting", study.waiting());
  rows.emplace_back(
      "trials", std::to_string(FinishedTrials(counts)) + "/" + std::to_string(spec.budget().max_trials()) +
                    " finished: " + std::to_string(counts.completed()) + " completed, " +
                    std::to_string(counts.pruned()) + " pruned, " + std::to_string(counts.failed()) +
                    " failed; " + std::to_string(counts.running()) + " running, " +
                    std::to_string(counts.pending()) + " pending, " + std::to_string(counts.cancelled()) +
                    " cancelled");
  rows.emplace_back("budget", CompactJson(spec.budget()));
  rows.emplace_back("algorithm",
                    spec.has_algorithm() && spec.algorithm().kind_case() != v1::Algorithm::KIND_NOT_SET
                        ? CompactJson(spec.algorithm())
                        : "random");
  if (spec.has_pruner() && spec.pruner().kind_case() != v1::Pruner::KIND_NOT_SET) {
    rows.emplace_back("pruner", CompactJson(spec.pruner()));
  }
  rows.emplace_back("task", CompactJson(spec.task()));
  rows.emplace_back("seed", std::to_string(spec.seed()));
  std::string objectives;
  for (const v1::Objective& objective : spec.objectives()) {
    if (!objectives.empty()) objectives += ", ";
    objectives += objective.name() + " (" + std::string(DirectionName(objective.direction())) + ")";
  }
  rows.emplace_back("objectives", objectives);
  if (front != nullptr) rows.emplace_back("pareto front", std::to_string(front->trials_size()) + " trials");
  if (front != nullptr && front->has_hypervolume()) {
    const std::string described = DescribeHypervolume(*front);  // "hypervolume X (...)"
    rows.emplace_back("hypervolume", described.substr(described.find(' ') + 1));
  }
  if (!spec.worker_selector().empty()) {
    std::map<std::string, std::string> sorted(spec.worker_selector().begin(), spec.worker_selector().end());
    std::string selector;
    for (const auto& [key, value] : sorted) selector += (selector.empty() ? "" : ", ") + key + "=" + value;
    rows.emplace_back("worker selector", selector);
  }
  size_t width = 0;
  for (const auto& [key, value] : rows) width = std::max(width, key.size());
  for (const v1::Parameter& parameter : spec.parameters())
    width = std::max(width, DisplayWidth(EscapeForTerminal(parameter.name())) + 2);
  std::string out;
  auto line = [&](const std::string& raw_key, const std::string& raw_value) {
    const std::string key = EscapeForTerminal(raw_key);
    out += key;
    out.append(width + 2 - DisplayWidth(key), ' ');
    out += EscapeForTerminal(raw_value);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += '\n';
  };
  for (const auto& [key, value] : rows) line(key, value);
  if (spec.parameters_size() > 0) {
    out += "parameters\n";
    for (const v1::Parameter& parameter : spec.parameters())
      line("  " + parameter.name(), DescribeParameter(parameter));
  }
  return out;
}

std::string FormatStudiesTable(const v1::ListStudiesResponse& studies) {
  std::vector<std::vector<Cell>> rows;
  for (const v1::Study& study : studies.studies()) {
    const v1::TrialCounts& counts = study.counts();
    rows.push_back({NumberCell(study.id()),
                    TextCell(study.spec().name().empty() ? kMissingInTable : study.spec().name()),
                    TextCell(StudyStateName(study.state())), NumberCell(counts.completed()),
                    NumberCell(counts.pruned()), NumberCell(counts.failed()), NumberCell(counts.running()),
                    NumberCell(counts.pending()), NumberCell(study.spec().budget().max_trials())});
  }
  return RenderTable(
      {"id", "name", "state", "completed", "pruned", "failed", "running", "pending", "max_trials"},
      std::move(rows));
}

namespace {

// A study's row for CSV and JSON: the columns of kStudyColumns, in order.
constexpr const char* kStudyColumns[] = {"id",        "name",       "state",      "completed",
                                         "pruned",    "failed",     "running",    "pending",
                                         "cancelled", "max_trials", "created_ms", "finished_ms"};

std::vector<Value> StudyRow(const v1::Study& study) {
  const v1::TrialCounts& c = study.counts();
  auto count = [](uint64_t v) { return Value::Int(static_cast<int64_t>(v)); };
  return {count(study.id()),
          Value::String(study.spec().name()),
          Value::String(std::string(StudyStateName(study.state()))),
          count(c.completed()),
          count(c.pruned()),
          count(c.failed()),
          count(c.running()),
          count(c.pending()),
          count(c.cancelled()),
          count(study.spec().budget().max_trials()),
          Value::Int(study.created_ms()),
          study.finished_ms() > 0 ? Value::Int(study.finished_ms()) : Value{}};
}

}  // namespace

std::string FormatStudiesCsv(const v1::ListStudiesResponse& studies) {
  std::string out;
  for (const char* column : kStudyColumns) {
    if (!out.empty()) out += ',';
    out += column;
  }
  out += '\n';
  for (const v1::Study& study : studies.studies()) {
    const std::vector<Value> row = StudyRow(study);
    for (size_t k = 0; k < row.size(); ++k) {
      if (k > 0) out += ',';
      out += CsvValue(row[k]);
    }
    out += '\n';
  }
  return out;
}

std::string FormatStudiesJson(const v1::ListStudiesResponse& studies) {
  if (studies.studies().empty()) return "[]\n";
  const std::vector<std::string> names(std::begin(kStudyColumns), std::end(kStudyColumns));
  std::string out = "[\n";
  for (int i = 0; i < studies.studies_size(); ++i) {
    out += "  ";
    AppendJsonObject(names, StudyRow(studies.studies(i)), 0, &out);
    out += i + 1 < studies.studies_size() ? ",\n" : "\n";
  }
  return out + "]\n";
}

std::string FormatStudies(const v1::ListStudiesResponse& studies, OutputFormat format) {
  switch (format) {
    case OutputFormat::kTable:
      return FormatStudiesTable(studies);
    case OutputFormat::kCsv:
      return FormatStudiesCsv(studies);
    case OutputFormat::kJson:
      return FormatStudiesJson(studies);
  }
  return FormatStudiesTable(studies);
}

}  // namespace hpo::client
