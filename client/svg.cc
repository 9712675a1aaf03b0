#include "client/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <vector>

#include "base/strings.h"

namespace hpo::client {
namespace {

constexpr double kMarginLeft = 90, kMarginRight = 30, kMarginTop = 64, kMarginBottom = 64;
constexpr int kTickTarget = 6;
constexpr char kFrontColour[] = "#d62728";
constexpr char kTrialColour[] = "#7f8c8d";

// One point to draw.
struct Point {
  const v1::Trial* trial;
  double x, y;
  const char* kind;  // "front", "trial" or "infeasible"
};

// [lo, hi] with a margin, never empty.
struct Range {
  double lo = 0, hi = 1;
};

Range PaddedRange(const std::vector<Point>& points, bool x) {
  if (points.empty()) return {};
  double lo = x ? points[0].x : points[0].y, hi = lo;
  for (const Point& p : points) {
    lo = std::min(lo, x ? p.x : p.y);
    hi = std::max(hi, x ? p.x : p.y);
  }
  const double span = hi - lo;
  const double pad = span > 0 ? span * 0.05 : std::max(std::fabs(lo) * 0.05, 0.5);
  return {lo - pad, hi + pad};
}

std::string Px(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  return buffer;
}

std::string TickLabel(double v) {
  if (std::fabs(v) < 1e-300) v = 0;  // no "-0" or 1e-17 from accumulated steps
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6g", v);
  return buffer;
}

std::string Number(double v) { return FormatDouble(v, DoubleLayout::kPython); }

std::string ParamText(const v1::ParamValue& value) {
  switch (value.kind_case()) {
    case v1::ParamValue::kDoubleValue:
      return Number(value.double_value());
    case v1::ParamValue::kIntValue:
      return std::to_string(value.int_value());
    case v1::ParamValue::kStringValue:
      return value.string_value();
    case v1::ParamValue::KIND_NOT_SET:
      break;
  }
  return "";
}

std::string_view DirectionWord(v1::Direction direction) {
  return direction == v1::MAXIMIZE ? "maximize" : "minimize";
}

// The tooltip: "trial 5 (Pareto front)", then one "name = value" line per objective and parameter.
std::string Tooltip(const Point& point, const std::vector<v1::Objective>& objectives,
                    const v1::StudySpec& spec) {
  const v1::Trial& trial = *point.trial;
  std::string text = "trial " + std::to_string(trial.number());
  if (std::string_view(point.kind) == "front") text += " (Pareto front)";
  if (std::string_view(point.kind) == "infeasible") text += " (misses a constraint)";
  for (const v1::Objective& objective : objectives) {
    const auto it = trial.metrics().find(objective.name());
    if (it != trial.metrics().end()) text += "\n" + objective.name() + " = " + Number(it->second);
  }
  std::vector<std::string> names;
  for (const v1::Parameter& parameter : spec.parameters()) names.push_back(parameter.name());
  std::vector<std::string> extra;
  for (const auto& [name, value] : trial.params()) {
    if (std::find(names.begin(), names.end(), name) == names.end()) extra.push_back(name);
  }
  std::sort(extra.begin(), extra.end());
  names.insert(names.end(), extra.begin(), extra.end());
  for (const std::string& name : names) {
    const auto it = trial.params().find(name);
    if (it != trial.params().end()) text += "\n" + name + " = " + ParamText(it->second);
  }
  return text;
}

std::optional<double> Metric(const v1::Trial& trial, const std::string& name) {
  const auto it = trial.metrics().find(name);
  if (it == trial.metrics().end() || !std::isfinite(it->second)) return std::nullopt;
  return it->second;
}

}  // namespace

std::string XmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, line feed and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int target) {
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  const double first = std::ceil(lo / step);
  for (double k = first;; k += 1) {
    const double v = k * step;
    if (v > hi + step * 1e-9) break;
    ticks.push_back(v);
    if (ticks.size() > 100) break;  // guard against a degenerate step
  }
  return ticks;
}

std::string FormatParetoSvg(const LocalFront& front, const v1::StudySpec& spec, const SvgOptions& options) {
  const std::vector<v1::Objective>& objectives = front.objectives;
  const bool by_number = objectives.size() < 2;
  // Axis labels.
  std::string x_label = "trial number", y_label;
  if (!objectives.empty()) {
    const v1::Objective& x_objective = objectives[0];
    const v1::Objective& y_objective = by_number ? objectives[0] : objectives[1];
    if (!by_number)
      x_label = x_objective.name() + " (" + std::string(DirectionWord(x_objective.direction())) + ")";
    y_label = y_objective.name() + " (" + std::string(DirectionWord(y_objective.direction())) + ")";
  }
  auto make_point = [&](const v1::Trial& trial, const char* kind) -> std::optional<Point> {
    if (objectives.empty()) return std::nullopt;
    if (by_number) {
      const std::optional<double> y = Metric(trial, objectives[0].name());
      if (!y) return std::nullopt;
      return Point{&trial, static_cast<double>(trial.number()), *y, kind};
    }
    const std::optional<double> x = Metric(trial, objectives[0].name());
    const std::optional<double> y = Metric(trial, objectives[1].name());
    if (!x || !y) return std::nullopt;
    return Point{&trial, *x, *y, kind};
  };
  std::vector<uint64_t> front_ids;
  for (const v1::Trial& trial : front.front) front_ids.push_back(trial.id());
  std::vector<Point> points, front_points;
  for (const v1::Trial& trial : front.infeasible) {
    if (auto p = make_point(trial, "infeasible")) points.push_back(*p);
  }
  for (const v1::Trial& trial : front.feasible) {
    if (std::find(front_ids.begin(), front_ids.end(), trial.id()) != front_ids.end()) continue;
    if (auto p = make_point(trial, "trial")) points.push_back(*p);
  }
  for (const v1::Trial& trial : front.front) {
    if (auto p = make_point(trial, "front")) front_points.push_back(*p);
  }
  std::vector<Point> all = points;
  all.insert(all.end(), front_points.begin(), front_points.end());
  const Range xr = PaddedRange(all, true), yr = PaddedRange(all, false);

  const double w = options.width, h = options.height;
  const double x0 = kMarginLeft, x1 = w - kMarginRight, y0 = kMarginTop, y1 = h - kMarginBottom;
  auto px = [&](double v) { return x0 + (v - xr.lo) / (xr.hi - xr.lo) * (x1 - x0); };
  auto py = [&](double v) { return y1 - (v - yr.lo) / (yr.hi - yr.lo) * (y1 - y0); };

  const std::string title = options.title.empty() ? "Pareto front" : options.title;
  std::string out;
  out += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(options.width) +
         "\" height=\"" + std::to_string(options.height) + "\" viewBox=\"0 0 " +
         std::to_string(options.width) + " " + std::to_string(options.height) +
         "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  out += "<title>" + XmlEscape(title) + "</title>\n";
  out += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out += "<text class=\"heading\" x=\"" + Px(x0) + "\" y=\"24\" font-size=\"16\">" + XmlEscape(title) +
         "</text>\n";
  std::string note = std::to_string(front_points.size()) + " on the front, " + std::to_string(all.size()) +
                     " completed trials plotted";
  if (objectives.size() > 2) {
    note += "; showing the first 2 of " + std::to_string(objectives.size()) + " objectives";
  }
  if (all.empty()) note = "no completed trials to plot";
  out += "<text class=\"note\" x=\"" + Px(x0) + "\" y=\"44\" fill=\"#555\">" + XmlEscape(note) + "</text>\n";

  // Axes, ticks and grid.
  out += "<g class=\"axes\" stroke=\"#333\" fill=\"none\">\n";
  out += "<rect x=\"" + Px(x0) + "\" y=\"" + Px(y0) + "\" width=\"" + Px(x1 - x0) + "\" height=\"" +
         Px(y1 - y0) + "\"/>\n</g>\n";
  out += "<g class=\"ticks\" fill=\"#333\">\n";
  for (double t : NiceTicks(xr.lo, xr.hi, kTickTarget)) {
    const std::string x = Px(px(t));
    out += "<line x1=\"" + x + "\" y1=\"" + Px(y0) + "\" x2=\"" + x + "\" y2=\"" + Px(y1) +
           "\" stroke=\"#e5e5e5\"/>\n";
    out += "<text x=\"" + x + "\" y=\"" + Px(y1 + 18) + "\" text-anchor=\"middle\">" + TickLabel(t) +
           "</text>\n";
  }
  for (double t : NiceTicks(yr.lo, yr.hi, kTickTarget)) {
    const std::string y = Px(py(t));
    out += "<line x1=\"" + Px(x0) + "\" y1=\"" + y + "\" x2=\"" + Px(x1) + "\" y2=\"" + y +
           "\" stroke=\"#e5e5e5\"/>\n";
    out += "<text x=\"" + Px(x0 - 8) + "\" y=\"" + Px(py(t) + 4) + "\" text-anchor=\"end\">" + TickLabel(t) +
           "</text>\n";
  }
  out += "</g>\n";
  out += "<text class=\"x-label\" x=\"" + Px((x0 + x1) / 2) + "\" y=\"" + Px(h - 18) +
         "\" text-anchor=\"middle\">" + XmlEscape(x_label) + "</text>\n";
  out += "<text class=\"y-label\" transform=\"translate(20 " + Px((y0 + y1) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">" + XmlEscape(y_label) + "</text>\n";

  auto circle = [&](const Point& p) {
    const bool on_front = std::string_view(p.kind) == "front";
    const bool infeasible = std::string_view(p.kind) == "infeasible";
    std::string c = "<circle class=\"" + std::string(p.kind) + "\" data-trial=\"" +
                    std::to_string(p.trial->number()) + "\" data-x=\"" + FormatDouble(p.x) + "\" data-y=\"" +
                    FormatDouble(p.y) + "\" cx=\"" + Px(px(p.x)) + "\" cy=\"" + Px(py(p.y)) + "\" r=\"" +
                    (on_front ? "5" : "3.5") + "\"";
    if (on_front) {
      c += " fill=\"" + std::string(kFrontColour) + "\" stroke=\"white\"";
    } else if (infeasible) {
      c += " fill=\"none\" stroke=\"" + std::string(kTrialColour) + "\" stroke-opacity=\"0.6\"";
    } else {
      c += " fill=\"" + std::string(kTrialColour) + "\" fill-opacity=\"0.45\"";
    }
    c += "><title>" + XmlEscape(Tooltip(p, objectives, spec)) + "</title></circle>\n";
    return c;
  };
  out += "<g class=\"trials\">\n";
  for (const Point& p : points) out += circle(p);
  out += "</g>\n";
  std::vector<Point> line = front_points;
  std::sort(line.begin(), line.end(),
            [](const Point& a, const Point& b) { return a.x != b.x ? a.x < b.x : a.y < b.y; });
  if (!line.empty()) {
    out += "<polyline class=\"front-line\" fill=\"none\" stroke=\"" + std::string(kFrontColour) +
           "\" stroke-width=\"1.5\" points=\"";
    for (size_t i = 0; i < line.size(); ++i) {
      out += (i > 0 ? " " : "") + Px(px(line[i].x)) + "," + Px(py(line[i].y));
    }
    out += "\"/>\n";
  }
  out += "<g class=\"front\">\n";
  for (const Point& p : front_points) out += circle(p);
  out += "</g>\n";

  // Legend, top right.
  const double lx = x1 - 200, ly = 16;
  out += "<g class=\"legend\">\n";
  out += "<circle cx=\"" + Px(lx) + "\" cy=\"" + Px(ly) + "\" r=\"5\" fill=\"" + kFrontColour +
         "\"/><text x=\"" + Px(lx + 10) + "\" y=\"" + Px(ly + 4) + "\">Pareto front</text>\n";
  out += "<circle cx=\"" + Px(lx) + "\" cy=\"" + Px(ly + 16) + "\" r=\"3.5\" fill=\"" + kTrialColour +
         "\" fill-opacity=\"0.45\"/><text x=\"" + Px(lx + 10) + "\" y=\"" + Px(ly + 20) +
         "\">other completed trials</text>\n";
  if (!front.infeasible.empty()) {
    out += "<circle cx=\"" + Px(lx) + "\" cy=\"" + Px(ly + 32) + "\" r=\"3.5\" fill=\"none\" stroke=\"" +
           kTrialColour + "\"/><text x=\"" + Px(lx + 10) + "\" y=\"" + Px(ly + 36) +
           "\">missing a constraint</text>\n";
  }
  out += "</g>\n</svg>\n";
  return out;
}

}  // namespace hpo::client
