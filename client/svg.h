// The Pareto front as a standalone SVG scatter plot, for `hpoctl pareto --format svg`: every completed
// trial a faint dot, those that miss a constraint hollow, the front's trials highlighted and joined by a
// line, each point with a tooltip (its number, objectives and parameters). No scripts, no external
// references: the file opens as is in a browser or an image viewer.
//
// Pure functions: no I/O, no shared state, safe from any thread.
#ifndef HPO_CLIENT_SVG_H_
#define HPO_CLIENT_SVG_H_

#include <string>
#include <string_view>
#include <vector>

#include "client/front.h"
#include "hpo/v1/study.pb.h"

namespace hpo::client {

struct SvgOptions {
  int width = 800;    // pixels
  int height = 560;   // pixels
  std::string title;  // the heading; empty: "Pareto front"
};

// The plot of `front` (ComputeFront's result, or the same built from the coordinator's front):
//  - with two or more objectives, x is the first and y the second (a note says so when there are more);
//    with one, x is the trial number and y the objective;
//  - each axis is labelled with its objective and the better direction, e.g. "accuracy (maximize)",
//    with ticks at round numbers;
//  - each point is a <circle> with class "front", "trial" (feasible, not on the front) or "infeasible",
//    and attributes data-trial (the trial number) and data-x / data-y (the plotted values, shortest
//    round-trip text); its <title> is the tooltip;
//  - the front's points are joined in order of x by a <polyline class="front-line">.
// `spec` names the parameters in the tooltips. Text is XML-escaped. The document ends with a newline.
std::string FormatParetoSvg(const LocalFront& front, const v1::StudySpec& spec, const SvgOptions& options);

// `text` with &, <, >, " and ' escaped for XML text and attribute values.
std::string XmlEscape(std::string_view text);

// Tick positions for an axis covering [lo, hi]: multiples of 1, 2 or 5 times a power of ten, about
// `target` of them, all within [lo, hi]. REQUIRES: lo < hi, both finite; target >= 2.
std::vector<double> NiceTicks(double lo, double hi, int target);

}  // namespace hpo::client

#endif  // HPO_CLIENT_SVG_H_
