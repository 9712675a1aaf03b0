#include "client/analyze.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <vector>

namespace hpo::client {
namespace {

std::string Fixed(double value, int digits) {
  if (!std::isfinite(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", digits, value);
  return buffer;
}

// Six significant digits, as a table wants them ("-" for none); the JSON has every digit.
std::string Short(double value) {
  if (!std::isfinite(value)) return "-";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.6g", value);
  return buffer;
}

// The width of UTF-8 `text` on a terminal: its code points (the table's text is all narrow).
size_t Width(const std::string& text) {
  return static_cast<size_t>(
      std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

// Rows of cells as columns padded to their widest cell, two spaces apart; numbers right-aligned.
std::string Align(const std::vector<std::vector<std::string>>& rows, size_t left_columns) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], Width(row[c]));
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - Width(row[c]), ' ');
      if (c > 0) line += "  ";
      line += c < left_columns ? row[c] + pad : pad + row[c];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + '\n';
  }
  return text;
}

}  // namespace

std::string FormatAnalysisTable(const v1::AnalyzeStudyResponse& analysis) {
  std::string text;
  if (analysis.importance().empty()) {
    text += "Importance: not enough completed trials (at least 2 are needed)\n";
  } else {
    text += "Importance (" + analysis.method() + "; share of each objective's variance):\n";
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"parameter"};
    for (const v1::ObjectiveImportance& o : analysis.importance()) {
      header.push_back(o.objective() + " (" + std::to_string(o.trials()) + " trials)");
    }
    rows.push_back(header);
    // Parameters in the first objective's order; each objective's value looked up by name.
    std::vector<std::map<std::string, const v1::ParameterImportance*>> by_name(
        static_cast<size_t>(analysis.importance_size()));
    for (int k = 0; k < analysis.importance_size(); ++k) {
      for (const auto& p : analysis.importance(k).parameters())
        by_name[static_cast<size_t>(k)][p.parameter()] = &p;
    }
    for (const auto& first : analysis.importance(0).parameters()) {
      std::vector<std::string> row = {first.parameter()};
      for (const auto& objective : by_name) {
        auto it = objective.find(first.parameter());
        row.push_back(it == objective.end()
                          ? "-"
                          : Fixed(it->second->importance(), 3) + " ±" + Fixed(it->second->stddev(), 3));
      }
      rows.push_back(std::move(row));
    }
    text += Align(rows, 1);
  }
  const v1::FrontSummary& front = analysis.front();
  text += "\nFront: " + std::to_string(front.trials_size()) + " trial" +
          (front.trials_size() == 1 ? "" : "s") + " of " + std::to_string(front.completed()) +
          " completed (" + std::to_string(front.infeasible()) + " infeasible)";
  if (front.reference_size() > 0) {
    text += ", hypervolume " + Short(front.hypervolume()) + " (reference ";
    for (int k = 0; k < front.reference_size(); ++k) text += (k > 0 ? ", " : "") + Short(front.reference(k));
    text += ")";
  }
  text += "\n";
  for (int k = 0; k < analysis.objectives_size() && k < front.best_size(); ++k) {
    const v1::Objective& o = analysis.objectives(k);
    text += "  best " + o.name() + " (" + (o.direction() == v1::MAXIMIZE ? "max" : "min") +
            "): " + Short(front.best(k));
    if (k < front.best_trial_ids_size() && front.best_trial_ids(k) != 0) {
      text += " (trial id " + std::to_string(front.best_trial_ids(k)) + ")";
    }
    text += "\n";
  }
  if (front.trials_size() > 0) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header = {"number", "id"};
    for (const auto& o : analysis.objectives()) header.push_back(o.name());
    rows.push_back(header);
    for (const v1::FrontTrialSummary& t : front.trials()) {
      std::vector<std::string> row = {std::to_string(t.number()), std::to_string(t.trial_id())};
      for (double v : t.objectives()) row.push_back(Short(v));
      rows.push_back(std::move(row));
    }
    text += Align(rows, 0);
  }
  return text;
}

std::string FormatAnalysisJson(const v1::AnalyzeStudyResponse& analysis) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(analysis, &json, options).ok()) return "{}\n";
  if (json.empty() || json.back() != '\n') json += '\n';
  return json;
}

Result<std::string> FormatAnalysis(const v1::AnalyzeStudyResponse& analysis, std::string_view format) {
  if (format == "table") return FormatAnalysisTable(analysis);
  if (format == "json") return FormatAnalysisJson(analysis);
  return InvalidArgumentError("--format: '" + std::string(format) + "' is not table or json");
}

}  // namespace hpo::client
