#include "coordinator/spec.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <vector>

#include "base/strings.h"
#include "problems/problem.h"
#include "search/gp_sampler.h"
#include "search/nsga2.h"
#include "search/pruner.h"
#include "search/random_search.h"
#include "search/woa.h"
#include "trainer/knobs.h"

namespace hpo::coordinator {
namespace {

constexpr uint32_t kMaxTrials = 1'000'000;
constexpr uint32_t kDefaultMaxAttempts = 3;
constexpr uint32_t kDefaultLeaseSeconds = 30;
// Limits on what one spec may ask for, so that its validation, its stored form and its search state stay
// small whatever a client sends.
constexpr size_t kMaxNameLength = 200;          // the study's name and every categorical choice, in bytes
constexpr size_t kMaxParameterNameLength = 64;  // a parameter's name, in bytes
constexpr int kMaxParameters = static_cast<int>(problems::kMaxProblemDims);  // the most any task takes
constexpr int kMaxChoices = 1'000;                                           // per categorical parameter
constexpr size_t kMaxGenes = size_t{1} << 20;  // population (or design) x parameters: 8 MiB of doubles
constexpr uint32_t kMaxTrainLimit = 50'000;    // Fashion-MNIST's training images (users' own data: any)
constexpr size_t kMaxPathLength = 4096;        // a data file's path (PATH_MAX)
// The model-based sampler: the default below this many trials; what it takes.
constexpr uint32_t kModelBasedBelowTrials = 500;
constexpr size_t kMaxGpObjectives = 3;
constexpr int kMaxConstraints = 16;
constexpr int kMaxEnqueued = 1'000;
constexpr size_t kMaxGpParameters = 200;  // the training images of Fashion-MNIST's split
// A command task: what one exec may take, with room to spare, and what a worker's environment holds.
constexpr int kMaxArgs = 256;                     // task.command.argv entries
constexpr size_t kMaxArgLength = 4'096;           // bytes of one argv entry or env value
constexpr int kMaxEnv = 100;                      // task.command.env entries
constexpr size_t kMaxEnvNameLength = 128;         // bytes of an env variable's name
constexpr uint32_t kMaxTimeoutSeconds = 604'800;  // task.command.timeout_s: one week
// Labels and selectors (Kubernetes' label limits, with room for a device name as a value).
constexpr int kMaxLabels = 32;
constexpr size_t kMaxLabelKeyLength = 63;
constexpr size_t kMaxLabelValueLength = 256;
// What a worker reports of a trial (ReportProgress and CompleteTrial alike).
constexpr size_t kMaxMetricNameLength = 64;  // bytes of a metric's name (objectives' and constraints' too)
constexpr int kMaxReportedMetrics = 100;     // values in one report
constexpr size_t kMaxReportedDeviceLength = kMaxLabelValueLength;  // a completion's device, as a label
constexpr size_t kMaxFailureReasonLength = 2048;  // a failed trial's reason as stored (longer: cut)

Status FieldError(const std::string& field, const std::string& what) {
  return InvalidArgumentError(field + ": " + what);
}

// "x3" for (prefix "x", index 3). Built by append: GCC 12 warns falsely on "x" + std::to_string(i).
// A bound as users wrote it: the shortest text that reads back to the same double ("2", "0.5", "4e+06").
std::string FormatDouble(double value) { return search::FormatValue(search::Value{value}); }

std::string Indexed(const char* prefix, size_t index) {
  std::string name(prefix);
  name += std::to_string(index);
  return name;
}

// "parameters[1] (lr)": how messages name a parameter once its name is known to be short and printable.
std::string ParamField(int i, const v1::Parameter& p) {
  return "parameters[" + std::to_string(i) + "] (" + p.name() + ")";
}

// The path of the first field that `message` or a message inside it carries but this schema does not
// know (a newer client's field, or damage), or "" when there is none. `path` is the message's own.
std::string UnknownFieldPath(const google::protobuf::Message& message, const std::string& path) {
  const google::protobuf::Reflection* reflection = message.GetReflection();
  const google::protobuf::UnknownFieldSet& unknown = reflection->GetUnknownFields(message);
  if (!unknown.empty()) {
    return (path.empty() ? "" : path + ".") + "<field " + std::to_string(unknown.field(0).number()) + ">";
  }
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);
  for (const google::protobuf::FieldDescriptor* field : fields) {
    if (field->cpp_type() != google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) continue;
    const std::string name = (path.empty() ? "" : path + ".") + field->name();
    if (!field->is_repeated()) {
      std::string found = UnknownFieldPath(reflection->GetMessage(message, field), name);
      if (!found.empty()) return found;
      continue;
    }
    for (int i = 0; i < reflection->FieldSize(message, field); ++i) {
      std::string found = UnknownFieldPath(reflection->GetRepeatedMessage(message, field, i),
                                           name + "[" + std::to_string(i) + "]");
      if (!found.empty()) return found;
    }
  }
  return "";
}

// What is wrong with `text` as a name or a value shown to users and passed to trials: longer than
// `max_length` bytes, not UTF-8, or holding a control character or a bidirectional control (base/strings.h
// DisplayTextProblem); "" when nothing is.
std::string TextProblem(std::string_view text, size_t max_length) {
  if (text.size() > max_length) return "longer than " + std::to_string(max_length) + " bytes";
  return DisplayTextProblem(text);
}

// A metric's name, as objectives and constraints name one and workers report one: 1..64 bytes of UTF-8
// text without control or bidirectional characters.
std::string MetricNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  return TextProblem(name, kMaxMetricNameLength);
}

// A parameter's name: what trials, tables and the trainer's command line use as a key.
std::string ParameterNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxParameterNameLength) {
    return "longer than " + std::to_string(kMaxParameterNameLength) + " bytes";
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.';
    if (!ok) return "may hold only letters, digits, '_', '-' and '.'";
  }
  return "";
}

// What is wrong with `name` as the name of an environment variable: [A-Za-z_][A-Za-z0-9_]*, at most
// kMaxEnvNameLength bytes, and not one the worker sets itself (HPO_...); "" when nothing is.
std::string EnvNameProblem(std::string_view name) {
  if (name.empty()) return "is empty";
  if (name.size() > kMaxEnvNameLength) return "longer than " + std::to_string(kMaxEnvNameLength) + " bytes";
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return "must be a letter or '_' followed by letters, digits and '_'";
  }
  if (name.substr(0, 4) == "HPO_") {
    return "names starting with HPO_ are the worker's own (HPO_PARAMS, HPO_TRIAL_ID, HPO_STUDY_ID, HPO_SEED)";
  }
  return "";
}

// What is wrong with `key` as a label's name: 1..63 bytes of letters, digits, '_', '-', '.' and '/',
// starting with a letter or digit; "" when nothing is.
std::string LabelKeyProblem(std::string_view key) {
  if (key.empty()) return "is empty";
  if (key.size() > kMaxLabelKeyLength) return "longer than " + std::to_string(kMaxLabelKeyLength) + " bytes";
  for (size_t i = 0; i < key.size(); ++i) {
    const char c = key[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (i == 0 && !alnum) return "must start with a letter or a digit";
    if (!alnum && c != '_' && c != '-' && c != '.' && c != '/') {
      return "may hold only letters, digits, '_', '-', '.' and '/'";
    }
  }
  return "";
}

// A map's keys in order, so that the first problem reported does not depend on the map's hashing.
std::vector<std::string> SortedKeys(const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& [key, value] : map) keys.push_back(key);
  std::sort(keys.begin(), keys.end());
  return keys;
}

// Shows `text` in a message: quoted, cut short when long, and with what a terminal would act on (control
// and bidirectional characters, bytes that are not UTF-8) escaped (base/strings.h EscapeForTerminal).
std::string Shown(std::string_view text) {
  constexpr size_t kMaxShown = 64;
  return "\"" + EscapeForTerminal(text.substr(0, kMaxShown)) + (text.size() > kMaxShown ? "...\"" : "\"");
}

std::string KnobNames() {
  std::string names;
  for (const auto& knob : trainer::Knobs()) {
    if (!names.empty()) names += ", ";
    names += knob.name;
  }
  return names;
}

std::string MetricNames() {
  std::string names;
  for (const auto& metric : trainer::Metrics()) {
    if (!names.empty()) names += ", ";
    names += metric.name;
  }
  return names;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.10g", v);
  return buf;
}

// The catalog's own check of a value for `knob`, as an error on `field`.
Status KnobError(const std::string& field, const std::string& error) {
  return error.empty() ? Status::Ok() : FieldError(field, error);
}

// parameters[i].condition: none, or an earlier categorical parent and some of its choices. `earlier`
// maps the names of parameters[0..i] to their positions.
Status CheckCondition(const v1::StudySpec& spec, int i, const std::map<std::string_view, int>& earlier) {
  const v1::Parameter& p = spec.parameters(i);
  if (!p.has_condition()) return Status::Ok();
  const v1::Condition& condition = p.condition();
  const std::string field = ParamField(i, p) + ".condition";
  if (condition.parent().empty()) {
    if (condition.values().empty()) return Status::Ok();
    return FieldError(field + ".parent", "missing, but values are given");
  }
  // The parent as messages show it: quoted when it is a well-formed name.
  const std::string named =
      ParameterNameProblem(condition.parent()).empty() ? "\"" + condition.parent() + "\" " : "";
  const auto parent = earlier.find(condition.parent());
  if (parent == earlier.end()) {
    for (int j = i + 1; j < spec.parameters_size(); ++j) {
      if (spec.parameters(j).name() == condition.parent()) {
        return FieldError(field + ".parent", named + "must come before the parameter (it is parameters[" +
                                                 std::to_string(j) + "])");
      }
    }
    return FieldError(field + ".parent", named + "is not the name of a parameter");
  }
  if (parent->second == i) return FieldError(field + ".parent", named + "is the parameter itself");
  const v1::Parameter& q = spec.parameters(parent->second);
  if (q.kind_case() != v1::Parameter::kCategorical) {
    return FieldError(field + ".parent", ParamField(parent->second, q) + " is not categorical");
  }
  if (condition.values().empty()) {
    return FieldError(field + ".values", "empty; list the choices of " + q.name() + " it exists under");
  }
  std::set<std::string_view> seen;
  for (int k = 0; k < condition.values_size(); ++k) {
    const std::string& value = condition.values(k);
    const std::string at = field + ".values[" + std::to_string(k) + "]";
    const auto& choices = q.categorical().choices();
    if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
      return FieldError(at, "not one of the choices of " + ParamField(parent->second, q));
    }
    if (!seen.insert(value).second) return FieldError(at, "\"" + value + "\" is listed twice");
  }
  return Status::Ok();
}

// The parameters' own fields, before the search space checks their numbers: how many, names, kinds,
// choices and conditions.
Status CheckParameters(const v1::StudySpec& spec) {
  if (spec.parameters_size() > kMaxParameters) {
    return FieldError("parameters", "at most " + std::to_string(kMaxParameters) + " parameters, got " +
                                        std::to_string(spec.parameters_size()));
  }
  std::map<std::string_view, int> earlier;
  for (int i = 0; i < spec.parameters_size(); ++i) {
    const v1::Parameter& p = spec.parameters(i);
    std::string problem = ParameterNameProblem(p.name());
    if (!problem.empty()) return FieldError("parameters[" + std::to_string(i) + "].name", problem);
    const std::string field = ParamField(i, p);
    const auto [first, inserted] = earlier.emplace(p.name(), i);
    if (!inserted) {
      return FieldError(field + ".name",
                        "named twice (also parameters[" + std::to_string(first->second) + "])");
    }
    if (p.kind_case() == v1::Parameter::KIND_NOT_SET) {
      return FieldError(field, "no kind; give one of float, int, categorical");
    }
    if (p.kind_case() == v1::Parameter::kCategorical) {
      const auto& choices = p.categorical().choices();
      if (choices.size() > kMaxChoices) {
        return FieldError(
            field + ".categorical.choices",
            "at most " + std::to_string(kMaxChoices) + " choices, got " + std::to_string(choices.size()));
      }
      for (int c = 0; c < choices.size(); ++c) {
        problem = TextProblem(choices[c], kMaxNameLength);
        if (!problem.empty()) {
          return FieldError(field + ".categorical.choices[" + std::to_string(c) + "]", problem);
        }
      }
    }
    HPO_RETURN_IF_ERROR(CheckCondition(spec, i, earlier));
  }
  return Status::Ok();
}

// The path of a user's data file at `field`: text without control characters, absolute (it is read on
// each worker). An empty one is refused when `required`, saying it is the path of `what` on the workers.
Status CheckDataPath(const std::string& field, const std::string& path, bool required,
                     std::string_view what) {
  if (path.empty()) {
    return required ? FieldError(field, "required: the path of " + std::string(what) + " on the workers")
                    : Status::Ok();
  }
  if (const std::string problem = TextProblem(path, kMaxPathLength); !problem.empty()) {
    return FieldError(field, problem);
  }
  if (path.front() != '/') {
    return FieldError(field, "must be an absolute path (it is read on each worker): " + Shown(path));
  }
  return Status::Ok();
}

// validation_fraction and test_fraction of the data at `field`: each in [0, 1) (0: the trainer's default,
// `default_validation` and `default_test`), test_fraction only when the test split is held out of the
// file (`test_held_out`), together below 1.
Status CheckDataFractions(const std::string& field, double validation_fraction, double test_fraction,
                          bool test_held_out, double default_validation, double default_test) {
  const double vf = validation_fraction, tf = test_fraction;
  if (!(vf >= 0 && vf < 1)) return FieldError(field + ".validation_fraction", "must be in [0, 1)");
  if (!(tf >= 0 && tf < 1)) return FieldError(field + ".test_fraction", "must be in [0, 1)");
  if (!test_held_out && tf > 0) {
    return FieldError(field + ".test_fraction", "only without test files (they are the test split)");
  }
  const double effective =
      (vf > 0 ? vf : default_validation) + (test_held_out ? (tf > 0 ? tf : default_test) : 0);
  if (!(effective < 1))
    return FieldError(field, "validation_fraction and test_fraction together must be below 1");
  return Status::Ok();
}

// A user's own labelled examples (NpyData, IdxData): absolute paths of `what` files, the training pair
// required, the test pair both or neither, and the fractions.
template <typename ExampleData>
Status CheckExampleData(const ExampleData& data, const std::string& field, std::string_view what) {
  const std::pair<const char*, const std::string*> paths[] = {{"train_images", &data.train_images()},
                                                              {"train_labels", &data.train_labels()},
                                                              {"test_images", &data.test_images()},
                                                              {"test_labels", &data.test_labels()}};
  for (const auto& [name, path] : paths) {
    const bool required = std::string_view(name).rfind("train_", 0) == 0;
    HPO_RETURN_IF_ERROR(CheckDataPath(field + "." + name, *path, required, what));
  }
  if (data.test_images().empty() != data.test_labels().empty()) {
    return FieldError(field, "give test_images and test_labels together, or neither");
  }
  // The trainer's defaults (trainer/dataset.h, ArrayDataOptions).
  return CheckDataFractions(field, data.validation_fraction(), data.test_fraction(),
                            data.test_images().empty(), 1.0 / 6, 1.0 / 7);
}

Status CheckNpyData(const v1::NpyData& npy) {
  if (!npy.layout().empty() && npy.layout() != "nhwc" && npy.layout() != "nchw") {
    return FieldError("task.builtin.npy.layout", "must be nhwc or nchw, not " + Shown(npy.layout()));
  }
  return CheckExampleData(npy, "task.builtin.npy", "an .npy file");
}

Status CheckTextData(const v1::TextData& text) {
  HPO_RETURN_IF_ERROR(CheckDataPath("task.builtin.text.path", text.path(), true, "a text file"));
  // The trainer's defaults (trainer/dataset.h, TextDataOptions).
  return CheckDataFractions("task.builtin.text", text.validation_fraction(), text.test_fraction(), true, 0.1,
                            0.1);
}

// The user's own data, at most one source of it.
Status CheckOwnData(const v1::BuiltinTask& task) {
  std::vector<std::string> given;
  if (task.has_npy()) given.push_back("npy");
  if (task.has_idx()) given.push_back("idx");
  if (task.has_text()) given.push_back("text");
  if (given.size() > 1) {
    std::string names = given[0];
    for (size_t i = 1; i < given.size(); ++i) names += (i + 1 == given.size() ? " and " : ", ") + given[i];
    return FieldError("task.builtin",
                      "give at most one of npy, idx and text (the data of every trial), not " + names);
  }
  if (task.has_npy()) return CheckNpyData(task.npy());
  if (task.has_idx()) return CheckExampleData(task.idx(), "task.builtin.idx", "an IDX file");
  if (task.has_text()) return CheckTextData(task.text());
  return Status::Ok();
}

// The language model trains on text and only it does: every model a trial may get (the searched choices,
// the fixed value, or the default mlp) must be lm with task.builtin.text, and must not be without it.
Status CheckModelFitsData(const v1::StudySpec& spec) {
  const v1::BuiltinTask& task = spec.task().builtin();
  const bool text = task.has_text();
  const auto refuse = [text](const std::string& field, const std::string& what) {
    return FieldError(field, what + (text ? ", but task.builtin.text trains model lm only"
                                          : ", which trains on a text file: give task.builtin.text"));
  };
  for (int i = 0; i < spec.parameters_size(); ++i) {
    const v1::Parameter& p = spec.parameters(i);
    if (p.name() != "model") continue;
    for (const std::string& choice : p.categorical().choices()) {
      if ((choice == "lm") != text) return refuse(ParamField(i, p), "chooses " + choice);
    }
    return Status::Ok();
  }
  const auto& fixed = spec.task().builtin().fixed().fields();
  if (const auto it = fixed.find("model"); it != fixed.end()) {
    const std::string& value = it->second.string_value();
    if ((value == "lm") != text) return refuse("task.builtin.fixed.model", "is " + value);
    return Status::Ok();
  }
  if (text)
    return FieldError("task.builtin.text", "trains model lm only: fix model to lm (it is mlp by default)");
  return Status::Ok();
}

// The builtin trainer's knobs bound the space: names, kinds and ranges.
Status CheckBuiltin(const v1::StudySpec& spec) {
  std::set<std::string> searched;
  for (int i = 0; i < spec.parameters_size(); ++i) {
    const v1::Parameter& p = spec.parameters(i);
    const std::string field = ParamField(i, p);
    const trainer::Knob* knob = trainer::FindKnob(p.name());
    if (knob == nullptr)
      return FieldError(field, "unknown parameter; the trainer's knobs are " + KnobNames());
    searched.insert(p.name());
    switch (p.kind_case()) {
      case v1::Parameter::kFloat:
        if (knob->type != trainer::KnobType::kFloat) {
          return FieldError(field, "knob " + p.name() + " is not a float; use " +
                                       (knob->type == trainer::KnobType::kInt ? "int" : "categorical"));
        }
        HPO_RETURN_IF_ERROR(
            KnobError(field + ".float.low", trainer::CheckKnobNumber(*knob, p.float_().low())));
        HPO_RETURN_IF_ERROR(
            KnobError(field + ".float.high", trainer::CheckKnobNumber(*knob, p.float_().high())));
        break;
      case v1::Parameter::kInt:
        if (knob->type == trainer::KnobType::kCategorical) {
          return FieldError(field, "knob " + p.name() + " is categorical; use categorical");
        }
        HPO_RETURN_IF_ERROR(KnobError(field + ".int.low",
                                      trainer::CheckKnobNumber(*knob, static_cast<double>(p.int_().low()))));
        HPO_RETURN_IF_ERROR(KnobError(field + ".int.high",
                                      trainer::CheckKnobNumber(*knob, static_cast<double>(p.int_().high()))));
        break;
      case v1::Parameter::kCategorical:
        for (int c = 0; c < p.categorical().choices_size(); ++c) {
          HPO_RETURN_IF_ERROR(KnobError(field + ".categorical.choices[" + std::to_string(c) + "]",
                                        trainer::CheckKnobText(*knob, p.categorical().choices(c))));
        }
        break;
      default:
        break;  // reported by the generic checks
    }
  }
  for (const auto& [name, value] : spec.task().builtin().fixed().fields()) {
    if (!ParameterNameProblem(name).empty())
      return FieldError("task.builtin.fixed", "a key is not a knob name");
    const std::string field = "task.builtin.fixed." + name;
    const trainer::Knob* knob = trainer::FindKnob(name);
    if (knob == nullptr) return FieldError(field, "unknown knob; the trainer's knobs are " + KnobNames());
    if (searched.count(name) != 0) return FieldError(field, "knob is both fixed and searched");
    if (value.kind_case() == google::protobuf::Value::kNumberValue) {
      HPO_RETURN_IF_ERROR(KnobError(field, trainer::CheckKnobNumber(*knob, value.number_value())));
    } else if (value.kind_case() == google::protobuf::Value::kStringValue) {
      HPO_RETURN_IF_ERROR(KnobError(field, trainer::CheckKnobText(*knob, value.string_value())));
    } else {
      return FieldError(field, "must be a number or a string");
    }
  }
  const v1::BuiltinTask& task = spec.task().builtin();
  HPO_RETURN_IF_ERROR(CheckOwnData(task));
  HPO_RETURN_IF_ERROR(CheckModelFitsData(spec));
  if (!task.has_npy() && !task.has_idx() && !task.has_text() && task.train_limit() > kMaxTrainLimit) {
    return FieldError("task.builtin.train_limit",
                      "must be at most " + std::to_string(kMaxTrainLimit) + " (the training images; 0: all)");
  }
  return Status::Ok();
}

// The catalog's conditional knobs (a family's knobs under model, momentum and nesterov under optimizer sgd,
// window under attention sliding_window, ...): a searched one is given the catalog's condition when the
// spec gives none. Up its chain of parents, a parent that is fixed (or left at its default) must take a
// value where the knob counts; the first parent that is searched becomes the condition, restricted to the
// choices that activate the knob, so that the search space models it as conditional (that parent's own
// condition covers the rest of the chain). One that could never count (a parent fixed or defaulted
// elsewhere, or searched over other choices only) is refused, since every trial spent on it would be
// wasted.
Status ApplyKnobConditions(v1::StudySpec& spec) {
  std::map<std::string, int> index;
  for (int i = 0; i < spec.parameters_size(); ++i) index.emplace(spec.parameters(i).name(), i);
  const auto& fixed = spec.task().builtin().fixed().fields();
  for (int i = 0; i < spec.parameters_size(); ++i) {
    v1::Parameter& p = *spec.mutable_parameters(i);
    const trainer::Knob* knob = trainer::FindKnob(p.name());
    if (knob == nullptr) continue;
    const std::string field = ParamField(i, p);
    // Walk up from the knob: `link` is the knob whose condition is being settled.
    for (const trainer::Knob* link = knob; link->conditional();) {
      const trainer::Knob* parent = trainer::FindKnob(link->when_knob);
      const std::string parent_name(link->when_knob);
      std::string rule =
          (link == knob ? "has an effect only when "
                        : "has an effect only when " + std::string(link->name) + " does, which is when ") +
          parent_name + " is ";
      for (size_t v = 0; v < link->when_values.size(); ++v) {
        if (v > 0) rule += " or ";
        rule += link->when_values[v];
      }
      if (const auto searched = index.find(parent_name); searched != index.end()) {
        const v1::Parameter& q = spec.parameters(searched->second);
        const std::string parent_field = ParamField(searched->second, q);
        std::vector<std::string> active;
        for (const std::string& choice : q.categorical().choices()) {
          if (link->ActiveWhen(choice)) active.push_back(choice);
        }
        if (active.empty()) return FieldError(field, rule + ", and " + parent_field + " never chooses it");
        if (p.has_condition() && !p.condition().parent().empty()) break;  // the user's own condition
        if (searched->second > i) {
          return FieldError(field,
                            rule + "; list " + parent_field + " before it, so that it can depend on it");
        }
        p.mutable_condition()->set_parent(parent_name);
        p.mutable_condition()->clear_values();
        for (const std::string& value : active) p.mutable_condition()->add_values(value);
        break;
      }
      const auto it = fixed.find(parent_name);
      const bool is_fixed =
          it != fixed.end() && it->second.kind_case() == google::protobuf::Value::kStringValue;
      const std::string value = is_fixed ? it->second.string_value() : std::string(parent->default_value);
      if (!link->ActiveWhen(value)) {
        return FieldError(field, rule + ", and " + parent_name + " is " + value +
                                     (is_fixed ? " (task.builtin.fixed)" : " (its default)") +
                                     " here: search " + parent_name +
                                     " or fix it to a value where this knob counts");
      }
      link = parent;
    }
  }
  return Status::Ok();
}

// A synthetic task's variables are x1..x{dims} on the problem's box; when the spec names none, they are
// filled in.
Status CheckSynthetic(v1::StudySpec& spec, size_t* num_objectives) {
  const v1::SyntheticTask& task = spec.task().synthetic();
  const std::vector<std::string> names = problems::ProblemNames();
  if (std::find(names.begin(), names.end(), task.function()) == names.end()) {
    std::string known;
    for (const std::string& name : names) known += (known.empty() ? "" : ", ") + name;
    return FieldError(
        "task.synthetic.function",
        std::string(task.function().empty() ? "missing" : "unknown function") + "; one of " + known);
  }
  auto problem = problems::MakeProblem(
      task.function(), task.dims(),
      task.has_shift_seed() ? std::optional<uint64_t>(task.shift_seed()) : std::nullopt);
  if (!problem.ok()) {
    const bool seed_is_wrong =
        task.has_shift_seed() && problems::MakeProblem(task.function(), task.dims(), std::nullopt).ok();
    return FieldError(seed_is_wrong ? "task.synthetic.shift_seed" : "task.synthetic.dims",
                      problem.status().message());
  }
  *num_objectives = problem->num_objectives;
  spec.mutable_task()->mutable_synthetic()->set_dims(static_cast<uint32_t>(problem->dims));
  if (spec.parameters_size() == 0) {
    for (size_t d = 0; d < problem->dims; ++d) {
      v1::Parameter* p = spec.add_parameters();
      p->set_name(Indexed("x", d + 1));
      p->mutable_float_()->set_low(problem->lower[d]);
      p->mutable_float_()->set_high(problem->upper[d]);
    }
    return Status::Ok();
  }
  if (static_cast<size_t>(spec.parameters_size()) != problem->dims) {
    return FieldError("parameters", "synthetic " + task.function() + " has " + std::to_string(problem->dims) +
                                        " variables x1..x" + std::to_string(problem->dims) +
                                        ", the spec names " + std::to_string(spec.parameters_size()));
  }
  for (int i = 0; i < spec.parameters_size(); ++i) {
    const v1::Parameter& p = spec.parameters(i);
    const std::string field = ParamField(i, p);
    if (p.name() != Indexed("x", static_cast<size_t>(i) + 1)) {
      return FieldError(field, "unknown parameter; synthetic variables are x1..x" +
                                   std::to_string(problem->dims) + " in order");
    }
    if (p.kind_case() != v1::Parameter::kFloat) return FieldError(field, "synthetic variables are float");
    if (p.float_().low() < problem->lower[i] || p.float_().high() > problem->upper[i]) {
      return FieldError(field, "range leaves the problem's domain [" + Num(problem->lower[i]) + ", " +
                                   Num(problem->upper[i]) + "]");
    }
  }
  return Status::Ok();
}

// A command task: the program and its arguments, its time limit and its environment.
Status CheckCommand(const v1::CommandTask& task) {
  if (task.argv().empty())
    return FieldError("task.command.argv", "must not be empty; give the program first");
  if (task.argv_size() > kMaxArgs) {
    return FieldError("task.command.argv", "at most " + std::to_string(kMaxArgs) + " entries, got " +
                                               std::to_string(task.argv_size()));
  }
  if (task.argv(0).empty()) return FieldError("task.command.argv[0]", "is empty; give the program to run");
  for (int i = 0; i < task.argv_size(); ++i) {
    if (const std::string problem = TextProblem(task.argv(i), kMaxArgLength); !problem.empty()) {
      return FieldError("task.command.argv[" + std::to_string(i) + "]", problem);
    }
  }
  if (task.timeout_s() > kMaxTimeoutSeconds) {
    return FieldError("task.command.timeout_s",
                      "must be at most " + std::to_string(kMaxTimeoutSeconds) + " (one week; 0: no limit)");
  }
  if (task.env_size() > kMaxEnv) {
    return FieldError("task.command.env", "at most " + std::to_string(kMaxEnv) + " variables, got " +
                                              std::to_string(task.env_size()));
  }
  for (const std::string& name : SortedKeys(task.env())) {
    if (const std::string problem = EnvNameProblem(name); !problem.empty()) {
      return FieldError("task.command.env", "key " + Shown(name) + " " + problem);
    }
    if (const std::string problem = TextProblem(task.env().at(name), kMaxArgLength); !problem.empty()) {
      return FieldError("task.command.env[" + name + "]", "value " + problem);
    }
  }
  return Status::Ok();
}

Status CheckObjectives(v1::StudySpec& spec, size_t synthetic_objectives) {
  if (spec.objectives_size() == 0) return FieldError("objectives", "at least one objective is required");
  if (spec.objectives_size() > 4) return FieldError("objectives", "at most 4 objectives are supported");
  std::set<std::string> seen;
  for (int i = 0; i < spec.objectives_size(); ++i) {
    v1::Objective* o = spec.mutable_objectives(i);
    if (const std::string problem = MetricNameProblem(o->name()); !problem.empty()) {
      return FieldError("objectives[" + std::to_string(i) + "].name", problem);
    }
    const std::string field = "objectives[" + std::to_string(i) + "] (" + o->name() + ")";
    if (!seen.insert(o->name()).second) return FieldError(field, "objective named twice");
    if (!v1::Direction_IsValid(o->direction())) {
      return FieldError(field + ".direction",
                        "unknown value " + std::to_string(o->direction()) + "; give MINIMIZE or MAXIMIZE");
    }
    bool maximize_by_default = false;
    if (spec.task().has_command() || spec.task().has_external()) {
      // The metrics are the user's own: only the user knows which way is better.
      if (o->name() == "device") {
        return FieldError(field, "\"device\" names where the metrics were measured, not a number");
      }
      if (o->direction() == v1::DIRECTION_UNSPECIFIED) {
        return FieldError(field + ".direction",
                          std::string("required for a ") +
                              (spec.task().has_command() ? "command" : "external") +
                              " task (its metrics are the program's own); give MINIMIZE or MAXIMIZE");
      }
    } else if (spec.task().has_builtin()) {
      const trainer::MetricInfo* metric = trainer::FindMetric(o->name());
      if (metric == nullptr)
        return FieldError(field, "unknown objective; the trainer reports " + MetricNames());
      maximize_by_default = metric->maximize;
    } else {
      bool known = false;
      for (size_t m = 1; m <= synthetic_objectives; ++m) known |= o->name() == Indexed("f", m);
      if (!known) {
        return FieldError(field, "unknown objective; synthetic " + spec.task().synthetic().function() +
                                     " reports f1..f" + std::to_string(synthetic_objectives));
      }
    }
    if (o->direction() == v1::DIRECTION_UNSPECIFIED) {
      o->set_direction(maximize_by_default ? v1::MAXIMIZE : v1::MINIMIZE);
    }
  }
  return Status::Ok();
}

Status CheckConstraints(const v1::StudySpec& spec, size_t synthetic_objectives) {
  if (spec.constraints_size() > kMaxConstraints) {
    return FieldError("constraints", "at most " + std::to_string(kMaxConstraints) + " constraints, got " +
                                         std::to_string(spec.constraints_size()));
  }
  std::set<std::string> seen;
  for (int i = 0; i < spec.constraints_size(); ++i) {
    const v1::Constraint& c = spec.constraints(i);
    if (const std::string problem = MetricNameProblem(c.metric()); !problem.empty()) {
      return FieldError("constraints[" + std::to_string(i) + "].metric", problem);
    }
    const std::string field = "constraints[" + std::to_string(i) + "] (" + c.metric() + ")";
    if (!seen.insert(c.metric()).second) {
      return FieldError(field, "metric constrained twice; give one entry with both min and max");
    }
    if (!c.has_max() && !c.has_min()) return FieldError(field, "give max, min or both");
    if (c.has_max() && !std::isfinite(c.max())) return FieldError(field + ".max", "not a finite number");
    if (c.has_min() && !std::isfinite(c.min())) return FieldError(field + ".min", "not a finite number");
    if (c.has_max() && c.has_min() && c.min() > c.max()) {
      return FieldError(field, "min " + FormatDouble(c.min()) + " > max " + FormatDouble(c.max()) +
                                   ": no trial could be feasible");
    }
    if (spec.task().has_command() || spec.task().has_external()) {
      if (c.metric() == "device") {
        return FieldError(field, "\"device\" names where the metrics were measured, not a number");
      }
    } else if (spec.task().has_builtin()) {
      if (trainer::FindMetric(c.metric()) == nullptr) {
        return FieldError(field, "unknown metric; the trainer reports " + MetricNames());
      }
    } else {
      bool known = false;
      for (size_t m = 1; m <= synthetic_objectives; ++m) known |= c.metric() == Indexed("f", m);
      if (!known) {
        return FieldError(field, "unknown metric; synthetic " + spec.task().synthetic().function() +
                                     " reports f1..f" + std::to_string(synthetic_objectives));
      }
    }
  }
  return Status::Ok();
}

// Enqueued configurations: how many, and each against the space (EnqueuedValues).
Status CheckEnqueue(const v1::StudySpec& spec) {
  if (spec.enqueue_size() > kMaxEnqueued ||
      static_cast<uint32_t>(spec.enqueue_size()) > spec.budget().max_trials()) {
    return FieldError("enqueue", std::to_string(spec.enqueue_size()) + " configurations; at most " +
                                     std::to_string(kMaxEnqueued) + " and at most budget.max_trials");
  }
  if (spec.enqueue_size() == 0) return Status::Ok();
  HPO_ASSIGN_OR_RETURN(const search::SearchSpace space, MakeSearchSpace(spec));
  const std::vector<search::Value> base = space.Decode(std::vector<double>(space.dims(), 0.0));
  for (int k = 0; k < spec.enqueue_size(); ++k) {
    HPO_RETURN_IF_ERROR(EnqueuedValues(spec, space, static_cast<size_t>(k), base).status());
  }
  return Status::Ok();
}

Status CheckBudget(v1::Budget& budget) {
  if (budget.max_trials() == 0) return FieldError("budget.max_trials", "must be at least 1");
  if (budget.max_trials() > kMaxTrials) {
    return FieldError("budget.max_trials", "must be at most " + std::to_string(kMaxTrials));
  }
  if (budget.max_parallel() == 0 || budget.max_parallel() > budget.max_trials()) {
    budget.set_max_parallel(budget.max_trials());
  }
  if (budget.max_attempts() == 0) budget.set_max_attempts(kDefaultMaxAttempts);
  if (budget.max_attempts() > 100) return FieldError("budget.max_attempts", "must be at most 100");
  if (budget.lease_seconds() == 0) budget.set_lease_seconds(kDefaultLeaseSeconds);
  if (budget.lease_seconds() > 86'400) return FieldError("budget.lease_seconds", "must be at most 86400");
  if (budget.max_failed_trials() > budget.max_trials()) {
    return FieldError("budget.max_failed_trials", std::to_string(budget.max_failed_trials()) +
                                                      " is more than max_trials " +
                                                      std::to_string(budget.max_trials()));
  }
  return Status::Ok();
}

// Every algorithm field: enum values, sizes against kMaxGenes, then the optimizer's own checks (by
// making it, so that a spec accepted here always gets its optimizer).
Status CheckAlgorithm(const v1::StudySpec& spec) {
  const size_t dims = static_cast<size_t>(spec.parameters_size());
  const uint64_t most = kMaxGenes / dims;
  const auto genes = [&](const std::string& field, uint64_t count) {
    if (count <= most) return Status::Ok();
    return FieldError(field, std::to_string(count) + " x " + std::to_string(dims) +
                                 " parameters is more than " + std::to_string(kMaxGenes) +
                                 " genes; at most " + std::to_string(most) + " for this space");
  };
  const v1::Algorithm& algorithm = spec.algorithm();
  switch (algorithm.kind_case()) {
    case v1::Algorithm::kRandom:
      HPO_RETURN_IF_ERROR(genes("algorithm.random.latin_hypercube", algorithm.random().latin_hypercube()));
      break;
    case v1::Algorithm::kNsga2:
      if (!v1::Nsga2::Mode_IsValid(algorithm.nsga2().mode())) {
        return FieldError("algorithm.nsga2.mode", "unknown value " +
                                                      std::to_string(algorithm.nsga2().mode()) +
                                                      "; give GENERATIONAL or STEADY_STATE");
      }
      HPO_RETURN_IF_ERROR(genes("algorithm.nsga2.population", algorithm.nsga2().population()));
      break;
    case v1::Algorithm::kWoa:
      if (!v1::Woa::Variant_IsValid(algorithm.woa().variant())) {
        return FieldError(
            "algorithm.woa.variant",
            "unknown value " + std::to_string(algorithm.woa().variant()) + "; give IMPROVED or ORIGINAL");
      }
      HPO_RETURN_IF_ERROR(genes("algorithm.woa.population", algorithm.woa().population()));
      HPO_RETURN_IF_ERROR(genes("algorithm.woa.archive_size", algorithm.woa().archive_size()));
      break;
    case v1::Algorithm::kGp:
      if (dims > kMaxGpParameters) {
        return FieldError("algorithm.gp", std::to_string(dims) +
                                              " parameters; the model-based sampler takes at most " +
                                              std::to_string(kMaxGpParameters));
      }
      if (static_cast<size_t>(spec.objectives_size()) > kMaxGpObjectives) {
        return FieldError("algorithm.gp", std::to_string(spec.objectives_size()) +
                                              " objectives; the model-based sampler takes at most " +
                                              std::to_string(kMaxGpObjectives));
      }
      if (algorithm.gp().has_initial_design() &&
          algorithm.gp().initial_design() > spec.budget().max_trials()) {
        return FieldError("algorithm.gp.initial_design", std::to_string(algorithm.gp().initial_design()) +
                                                             " is more than budget.max_trials " +
                                                             std::to_string(spec.budget().max_trials()));
      }
      break;
    case v1::Algorithm::KIND_NOT_SET:
      break;
  }
  return MakeOptimizer(spec, dims).status();
}

// An optimizer's option error ("nsga2.population: ...") as the spec field it came from.
Result<std::unique_ptr<search::Optimizer>> AlgorithmError(Result<std::unique_ptr<search::Optimizer>> made) {
  if (made.ok() || made.status().code() != StatusCode::kInvalidArgument) return made;
  return InvalidArgumentError("algorithm." + made.status().message());
}

search::ParamSpec ToParamSpec(const v1::Parameter& p) {
  search::ParamSpec s;
  s.name = p.name();
  s.parent = p.condition().parent();
  s.parent_values.assign(p.condition().values().begin(), p.condition().values().end());
  switch (p.kind_case()) {
    case v1::Parameter::kFloat:
      s.kind = search::ParamKind::kFloat;
      s.low = p.float_().low();
      s.high = p.float_().high();
      s.log = p.float_().log();
      s.step = p.float_().step();
      break;
    case v1::Parameter::kInt:
      s.kind = search::ParamKind::kInt;
      s.low = static_cast<double>(p.int_().low());
      s.high = static_cast<double>(p.int_().high());
      s.log = p.int_().log();
      s.step = static_cast<double>(p.int_().step());
      break;
    default:
      s.kind = search::ParamKind::kCategorical;
      s.choices.assign(p.categorical().choices().begin(), p.categorical().choices().end());
      break;
  }
  return s;
}

}  // namespace

Result<v1::StudySpec> NormalizeSpec(const v1::StudySpec& input) {
  // A field this schema does not know would be stored and never obeyed (study files refuse them too).
  const std::string unknown = UnknownFieldPath(input, "");
  if (!unknown.empty()) {
    return FieldError(unknown, "unknown field: this coordinator's StudySpec has no such field");
  }
  v1::StudySpec spec = input;
  if (const std::string problem = TextProblem(spec.name(), kMaxNameLength); !problem.empty()) {
    return FieldError("name", problem);
  }
  HPO_RETURN_IF_ERROR(CheckParameters(spec));
  size_t synthetic_objectives = 0;
  switch (spec.task().kind_case()) {
    case v1::Task::kBuiltin:
      break;
    case v1::Task::kSynthetic:
      HPO_RETURN_IF_ERROR(CheckSynthetic(spec, &synthetic_objectives));
      break;
    case v1::Task::kCommand:
      HPO_RETURN_IF_ERROR(CheckCommand(spec.task().command()));
      break;
    case v1::Task::kExternal:
      break;
    default:
      return FieldError("task", "missing; give one of builtin, synthetic, command, external");
  }
  HPO_RETURN_IF_ERROR(CheckLabels("worker_selector", spec.worker_selector()));
  if (spec.parameters_size() == 0) return FieldError("parameters", "at least one parameter is required");
  // The search space checks bounds, log scales, steps and choices, naming the parameter.
  HPO_RETURN_IF_ERROR(MakeSearchSpace(spec).status());
  if (spec.task().has_builtin()) {
    HPO_RETURN_IF_ERROR(CheckBuiltin(spec));
    HPO_RETURN_IF_ERROR(ApplyKnobConditions(spec));
  }
  HPO_RETURN_IF_ERROR(CheckObjectives(spec, synthetic_objectives));
  HPO_RETURN_IF_ERROR(CheckConstraints(spec, synthetic_objectives));
  HPO_RETURN_IF_ERROR(CheckBudget(*spec.mutable_budget()));
  HPO_RETURN_IF_ERROR(MakePrunerOptions(spec).status());
  if (spec.algorithm().kind_case() == v1::Algorithm::KIND_NOT_SET) {
    // The default: the model-based sampler where trials are few (each one a training run), NSGA-II at
    // large budgets.
    if (spec.budget().max_trials() < kModelBasedBelowTrials &&
        static_cast<size_t>(spec.objectives_size()) <= kMaxGpObjectives &&
        static_cast<size_t>(spec.parameters_size()) <= kMaxGpParameters) {
      spec.mutable_algorithm()->mutable_gp();
    } else {
      spec.mutable_algorithm()->mutable_nsga2();
    }
  }
  HPO_RETURN_IF_ERROR(CheckAlgorithm(spec));
  HPO_RETURN_IF_ERROR(CheckEnqueue(spec));
  return spec;
}

Result<search::SearchSpace> MakeSearchSpace(const v1::StudySpec& spec) {
  std::vector<search::ParamSpec> params;
  params.reserve(spec.parameters_size());
  for (const v1::Parameter& p : spec.parameters()) params.push_back(ToParamSpec(p));
  return search::SearchSpace::Create(std::move(params));
}

Result<std::unique_ptr<search::Optimizer>> MakeOptimizer(const v1::StudySpec& spec, size_t dims) {
  search::OptimizerOptions base;
  base.dims = dims;
  base.num_objectives = static_cast<size_t>(spec.objectives_size());
  base.seed = spec.seed();
  const v1::Algorithm& algorithm = spec.algorithm();
  switch (algorithm.kind_case()) {
    case v1::Algorithm::kNsga2: {
      const v1::Nsga2& a = algorithm.nsga2();
      search::Nsga2Options options;
      options.base = base;
      if (a.has_population()) options.population = a.population();
      options.mode = a.mode() == v1::Nsga2::GENERATIONAL ? search::Nsga2Options::Mode::kGenerational
                                                         : search::Nsga2Options::Mode::kSteadyState;
      if (a.has_crossover_prob()) options.crossover_prob = a.crossover_prob();
      if (a.has_eta_c()) options.eta_c = a.eta_c();
      if (a.has_eta_m()) options.eta_m = a.eta_m();
      if (a.has_mutation_prob()) options.mutation_prob = a.mutation_prob();
      return AlgorithmError(search::MakeNsga2(options));
    }
    case v1::Algorithm::kWoa: {
      const v1::Woa& a = algorithm.woa();
      search::WoaOptions options;
      if (a.variant() == v1::Woa::ORIGINAL) {
        options = search::WoaOptions::Original(base);
      } else {
        options.base = base;
      }
      if (a.has_population()) options.population = a.population();
      if (a.has_inertia_weight()) options.inertia_weight = a.inertia_weight();
      if (a.has_hybrid_search()) options.hybrid_search = a.hybrid_search();
      if (a.has_adaptive_shrink()) options.adaptive_shrink = a.adaptive_shrink();
      if (a.has_archive_size()) options.archive_size = a.archive_size();
      // T defaults to the iterations the trial budget allows, so that a(t) and w(t) run their course.
      options.max_iterations =
          a.has_max_iterations() ? a.max_iterations()
                                 : search::WoaIterationsForBudget(spec.budget().max_trials(),
                                                                  options.population, options.hybrid_search);
      return AlgorithmError(search::MakeWoa(options));
    }
    case v1::Algorithm::kGp: {
      const v1::Gp& a = algorithm.gp();
      search::GpSamplerOptions options;
      options.base = base;
      options.num_constraints = ConstraintCount(spec);
      HPO_ASSIGN_OR_RETURN(search::SearchSpace space, MakeSearchSpace(spec));
      if (space.dims() == dims) options.space = std::move(space);
      options.initial_design = a.initial_design();
      if (a.has_max_observations()) options.max_observations = a.max_observations();
      // In the service a fit never runs in Ask, under the Core's lock: the Core runs the sampler's jobs on
      // its fitting thread (coordinator/core.h).
      options.background = true;
      // A sequential study's one worker waits for the fit of every result (typically well under a second
      // at a few hundred trials); a parallel study never waits: its workers get the queued proposals,
      // one per worker up to 8 per fit, and a trial bred from the front when those run out.
      options.wait_for_fits = spec.budget().max_parallel() == 1;
      options.queue = std::clamp<size_t>(spec.budget().max_parallel(), 2, 8);
      // Its results are the study's trials: the saved state leaves them out (StudyRunner restores them),
      // so that saving it costs the same at the 10th trial as at the 10,000th.
      options.results_in_state = false;
      return AlgorithmError(search::MakeGpSampler(options));
    }
    case v1::Algorithm::kRandom:
    case v1::Algorithm::KIND_NOT_SET: {
      search::RandomSearchOptions options;
      options.base = base;
      options.latin_hypercube = algorithm.random().latin_hypercube();
      return AlgorithmError(search::MakeRandomSearch(options));
    }
  }
  return FieldError("algorithm", "unknown algorithm");
}

Status CheckLabels(const std::string& field, const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > static_cast<size_t>(kMaxLabels)) {
    return FieldError(
        field, "at most " + std::to_string(kMaxLabels) + " labels, got " + std::to_string(labels.size()));
  }
  for (const std::string& key : SortedKeys(labels)) {
    if (const std::string problem = LabelKeyProblem(key); !problem.empty()) {
      return FieldError(field, "key " + Shown(key) + " " + problem);
    }
    if (const std::string problem = TextProblem(labels.at(key), kMaxLabelValueLength); !problem.empty()) {
      return FieldError(field, "value of " + Shown(key) + " " + problem);
    }
  }
  return Status::Ok();
}

Status CheckReportedMetrics(const std::string& field,
                            const google::protobuf::Map<std::string, double>& metrics, NonFinite non_finite) {
  if (metrics.size() > static_cast<size_t>(kMaxReportedMetrics)) {
    return FieldError(field, "at most " + std::to_string(kMaxReportedMetrics) + " values, got " +
                                 std::to_string(metrics.size()));
  }
  std::vector<std::string> names;
  names.reserve(metrics.size());
  for (const auto& [name, value] : metrics) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    if (name.empty()) return FieldError(field, "a name is empty");
    if (const std::string problem = MetricNameProblem(name); !problem.empty()) {
      return FieldError(field, "name " + Shown(name) + " " + problem);
    }
    if (non_finite == NonFinite::kRefuse && !std::isfinite(metrics.at(name))) {
      return FieldError(field + "[" + name + "]", "not a finite number");
    }
  }
  return Status::Ok();
}

Status CheckReportedDevice(const std::string& field, const std::string& device) {
  if (const std::string problem = TextProblem(device, kMaxReportedDeviceLength); !problem.empty()) {
    return FieldError(field, problem);
  }
  return Status::Ok();
}

std::string StoredFailureReason(std::string_view error) {
  if (error.size() <= kMaxFailureReasonLength) return std::string(error);
  size_t end = 0;
  while (end < kMaxFailureReasonLength) {
    const size_t step = std::max<size_t>(1, Utf8SequenceLength(error.substr(end)));  // a stray byte: 1
    if (end + step > kMaxFailureReasonLength) break;
    end += step;
  }
  return std::string(error.substr(0, end)) + " ... (" + std::to_string(error.size() - end) + " bytes cut)";
}

std::string SelectorMismatch(const google::protobuf::Map<std::string, std::string>& selector,
                             const std::map<std::string, std::string>& labels) {
  for (const std::string& key : SortedKeys(selector)) {
    const std::string& wanted = selector.at(key);
    auto it = labels.find(key);
    if (it == labels.end()) return "wants " + key + "=" + wanted + ", the worker has no label " + key;
    if (it->second != wanted)
      return "wants " + key + "=" + wanted + ", the worker has " + key + "=" + it->second;
  }
  return "";
}

v1::ParamValue ToParamValue(const search::Value& value) {
  v1::ParamValue out;
  if (const auto* d = std::get_if<double>(&value)) {
    out.set_double_value(*d);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out.set_int_value(*i);
  } else {
    out.set_string_value(std::get<std::string>(value));
  }
  return out;
}

Result<std::vector<double>> MinimisedObjectives(const v1::StudySpec& spec,
                                                const google::protobuf::Map<std::string, double>& metrics) {
  std::vector<double> objectives;
  objectives.reserve(spec.objectives_size());
  for (const v1::Objective& o : spec.objectives()) {
    auto it = metrics.find(o.name());
    if (it == metrics.end()) return NotFoundError("missing metric " + o.name());
    if (!std::isfinite(it->second)) return InvalidArgumentError("non-finite metric " + o.name());
    objectives.push_back(o.direction() == v1::MAXIMIZE ? -it->second : it->second);
  }
  return objectives;
}

size_t ConstraintCount(const v1::StudySpec& spec) {
  size_t count = 0;
  for (const v1::Constraint& c : spec.constraints()) count += size_t{c.has_max()} + size_t{c.has_min()};
  return count;
}

Result<std::vector<double>> ConstraintValues(const v1::StudySpec& spec,
                                             const google::protobuf::Map<std::string, double>& metrics) {
  std::vector<double> values;
  values.reserve(ConstraintCount(spec));
  for (const v1::Constraint& c : spec.constraints()) {
    auto it = metrics.find(c.metric());
    if (it == metrics.end()) return NotFoundError("missing constraint metric " + c.metric());
    if (!std::isfinite(it->second))
      return InvalidArgumentError("constraint metric " + c.metric() + " is not finite");
    if (c.has_max()) values.push_back(it->second - c.max());
    if (c.has_min()) values.push_back(c.min() - it->second);
  }
  return values;
}

std::vector<std::string> ViolatedConstraints(const v1::StudySpec& spec,
                                             const google::protobuf::Map<std::string, double>& metrics) {
  std::vector<std::string> violated;
  for (const v1::Constraint& c : spec.constraints()) {
    auto it = metrics.find(c.metric());
    const bool known = it != metrics.end() && std::isfinite(it->second);
    if (c.has_max() && (!known || it->second > c.max()))
      violated.push_back(c.metric() + " <= " + FormatDouble(c.max()));
    if (c.has_min() && (!known || it->second < c.min()))
      violated.push_back(c.metric() + " >= " + FormatDouble(c.min()));
  }
  return violated;
}

Result<search::PrunerOptions> MakePrunerOptions(const v1::StudySpec& spec) {
  search::PrunerOptions options;
  const v1::Pruner& pruner = spec.pruner();
  if (pruner.kind_case() == v1::Pruner::KIND_NOT_SET) return options;
  // The full budget in steps: as given, else a builtin task's epochs (fixed, or the knob's default).
  auto full_budget = [&](const std::string& field, uint32_t given) -> Result<uint64_t> {
    if (given != 0) return uint64_t{given};
    if (spec.task().has_builtin()) {
      const auto& fixed = spec.task().builtin().fixed().fields();
      if (auto it = fixed.find("epochs"); it != fixed.end() && it->second.has_number_value()) {
        return static_cast<uint64_t>(it->second.number_value());
      }
      for (const v1::Parameter& p : spec.parameters()) {
        if (p.name() == "epochs" && p.has_int_()) return static_cast<uint64_t>(p.int_().high());
      }
      if (const trainer::Knob* knob = trainer::FindKnob("epochs"); knob != nullptr) {
        return static_cast<uint64_t>(std::stoll(std::string(knob->default_value)));
      }
    }
    return FieldError(field, "required: the full budget in steps (a builtin task's default is its epochs)");
  };
  switch (pruner.kind_case()) {
    case v1::Pruner::kMedian:
      options.kind = search::PrunerKind::kMedian;
      if (pruner.median().has_n_startup_trials())
        options.median.n_startup_trials = pruner.median().n_startup_trials();
      if (pruner.median().has_n_warmup_steps())
        options.median.n_warmup_steps = pruner.median().n_warmup_steps();
      break;
    case v1::Pruner::kAsha: {
      const v1::AshaPruner& a = pruner.asha();
      // Several objectives: multi-objective ASHA, ranking a rung by non-dominated sorting.
      options.kind =
          spec.objectives_size() > 1 ? search::PrunerKind::kMultiObjectiveAsha : search::PrunerKind::kAsha;
      if (a.has_min_resource()) options.asha.min_resource = a.min_resource();
      if (a.has_reduction_factor()) options.asha.reduction_factor = a.reduction_factor();
      if (a.has_min_early_stopping_rate()) options.asha.min_early_stopping_rate = a.min_early_stopping_rate();
      HPO_ASSIGN_OR_RETURN(options.asha.max_resource,
                           full_budget("pruner.asha.max_resource", a.max_resource()));
      break;
    }
    case v1::Pruner::kHyperband: {
      const v1::HyperbandPruner& h = pruner.hyperband();
      options.kind = search::PrunerKind::kHyperband;
      if (h.has_min_resource()) options.hyperband.min_resource = h.min_resource();
      if (h.has_reduction_factor()) options.hyperband.reduction_factor = h.reduction_factor();
      HPO_ASSIGN_OR_RETURN(options.hyperband.max_resource,
                           full_budget("pruner.hyperband.max_resource", h.max_resource()));
      options.hyperband.seed = spec.seed();
      break;
    }
    case v1::Pruner::KIND_NOT_SET:
      break;
  }
  HPO_RETURN_IF_ERROR(search::ValidatePrunerOptions(options));
  return options;
}

Result<std::vector<search::Value>> EnqueuedValues(const v1::StudySpec& spec, const search::SearchSpace& space,
                                                  size_t k, std::vector<search::Value> values) {
  const std::string field = "enqueue[" + std::to_string(k) + "].params";
  const auto& given = spec.enqueue(static_cast<int>(k)).params().fields();
  const std::vector<search::ParamSpec>& params = space.params();
  std::vector<std::string> names;
  for (const auto& [name, value] : given) names.push_back(name);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    bool known = false;
    for (const search::ParamSpec& p : params) known |= p.name == name;
    if (!known) return FieldError(field, "unknown parameter " + Shown(name));
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const search::ParamSpec& p = params[i];
    auto it = given.find(p.name);
    if (it == given.end()) continue;
    const google::protobuf::Value& v = it->second;
    const std::string where = field + "." + p.name;
    switch (p.kind) {
      case search::ParamKind::kFloat:
        if (!v.has_number_value()) return FieldError(where, "a float parameter takes a number");
        values[i] = v.number_value();
        break;
      case search::ParamKind::kInt: {
        const double n = v.has_number_value() ? v.number_value() : std::nan("");
        if (!std::isfinite(n) || n != std::floor(n) || std::abs(n) > 0x1p53) {
          return FieldError(where, "an int parameter takes a whole number");
        }
        values[i] = static_cast<int64_t>(n);
        break;
      }
      case search::ParamKind::kCategorical:
        if (v.has_string_value()) {
          values[i] = v.string_value();
        } else if (v.has_number_value()) {
          values[i] = FormatDouble(v.number_value());  // 64 names the choice "64"
        } else {
          return FieldError(where, "a categorical parameter takes one of its choices");
        }
        break;
    }
  }
  // The space checks bounds, grids and choices, naming the parameter.
  if (Result<std::vector<double>> x = space.Encode(values); !x.ok()) {
    return FieldError(field, std::string(x.status().message()));
  }
  return values;
}

Result<std::vector<search::Evaluation>> WarmStartResults(const v1::StudySpec& spec,
                                                         const search::SearchSpace& space,
                                                         const v1::Study& source,
                                                         const std::vector<v1::Trial>& trials) {
  const std::string field = "warm_start.from_study";
  const std::string which = "study " + std::to_string(source.id());
  const v1::StudySpec& old = source.spec();
  // Every parameter here must be there, of the same kind.
  for (const v1::Parameter& p : spec.parameters()) {
    const v1::Parameter* there = nullptr;
    for (const v1::Parameter& q : old.parameters()) {
      if (q.name() == p.name()) there = &q;
    }
    if (there == nullptr) return FieldError(field, which + " has no parameter " + Shown(p.name()));
    if (there->kind_case() != p.kind_case()) {
      auto kind = [](const v1::Parameter& q) {
        return q.has_float_() ? "float" : q.has_int_() ? "int" : "categorical";
      };
      return FieldError(field, "parameter " + Shown(p.name()) + " is " + kind(p) + " here and " +
                                   kind(*there) + " in " + which);
    }
  }
  std::vector<search::Evaluation> results;
  for (const v1::Trial& trial : trials) {
    if (trial.state() != v1::TRIAL_COMPLETED) continue;
    // Objectives (with this study's directions) and constraints from the trial's metrics.
    Result<std::vector<double>> objectives = MinimisedObjectives(spec, trial.metrics());
    if (!objectives.ok()) {
      return FieldError(field, which + "'s trials do not report this study's objectives (" +
                                   std::string(objectives.status().message()) + ")");
    }
    Result<std::vector<double>> constraints = ConstraintValues(spec, trial.metrics());
    if (!constraints.ok()) {
      return FieldError(field, which + "'s trials do not report this study's constraint metrics (" +
                                   std::string(constraints.status().message()) + ")");
    }
    // Values by name; a parameter the trial lacks (inactive there) takes any valid value here.
    std::vector<search::Value> values = space.Decode(std::vector<double>(space.dims(), 0.0));
    for (size_t i = 0; i < space.dims(); ++i) {
      const search::ParamSpec& p = space.params()[i];
      auto it = trial.params().find(p.name);
      if (it == trial.params().end()) continue;
      const v1::ParamValue& v = it->second;
      if (v.has_double_value()) values[i] = v.double_value();
      if (v.has_int_value()) values[i] = v.int_value();
      if (v.has_string_value()) values[i] = v.string_value();
    }
    Result<std::vector<double>> x = space.Encode(values);
    if (!x.ok()) continue;  // outside this study's bounds or choices: left out
    // A parameter active here must have had a value there.
    const std::vector<bool> active = space.Active(values);
    bool complete = true;
    for (size_t i = 0; i < space.dims(); ++i) {
      complete = complete && (!active[i] || trial.params().contains(space.params()[i].name));
    }
    if (!complete) continue;
    search::Evaluation e;
    e.candidate.x = std::move(*x);
    e.objectives = std::move(*objectives);
    e.constraints = std::move(*constraints);
    for (double g : e.constraints) e.constraint_violation += std::max(g, 0.0);
    results.push_back(std::move(e));
  }
  return results;
}

}  // namespace hpo::coordinator
