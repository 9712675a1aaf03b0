#include "search/random_search.h"

#include <charconv>
#include <cmath>
#include <set>
#include <sstream>

#include "base/rng.h"

namespace hpo::search {
namespace {

// State format, text:
//   hpo.random_search v1
//   dims <dims> objectives <num_objectives>
//   next_id <id>
//   outstanding <count> <id> ... (ascending)
//   rng <Rng::Save text to the end>
constexpr char kMagic[] = "hpo.random_search";
constexpr char kVersion[] = "v1";

// Reads the word `word` then an unsigned decimal; false on anything else.
bool ReadField(std::istream& in, const char* word, uint64_t& value) {
  std::string token, number;
  if (!(in >> token >> number) || token != word) return false;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  return ec == std::errc() && end == number.data() + number.size();
}

Status ValidateResult(size_t num_objectives, std::span<const double> objectives, double violation) {
  if (objectives.size() != num_objectives) {
    return InvalidArgumentError("expected " + std::to_string(num_objectives) + " objectives, got " +
                                std::to_string(objectives.size()));
  }
  for (size_t i = 0; i < objectives.size(); ++i) {
    if (!std::isfinite(objectives[i])) {
      return InvalidArgumentError("objectives[" + std::to_string(i) + "] is not finite");
    }
  }
  if (!std::isfinite(violation) || violation < 0) {
    return InvalidArgumentError("constraint_violation must be finite and >= 0");
  }
  return Status::Ok();
}

class RandomSearch final : public Optimizer {
 public:
  explicit RandomSearch(const OptimizerOptions& options) : options_(options), rng_(options.seed) {}

  std::vector<Candidate> Ask(size_t n) override {
    std::vector<Candidate> candidates(n);
    for (Candidate& c : candidates) {
      c.id = next_id_++;
      c.x.resize(options_.dims);
      for (double& gene : c.x) gene = rng_.Uniform01();
      outstanding_.insert(c.id);
    }
    return candidates;
  }

  Status Tell(const Candidate& c, std::span<const double> objectives, double constraint_violation) override {
    HPO_RETURN_IF_ERROR(ValidateResult(options_.num_objectives, objectives, constraint_violation));
    return Close(c.id);
  }

  Status TellFailed(const Candidate& c) override { return Close(c.id); }

  std::string Save() const override {
    std::ostringstream out;
    out << kMagic << ' ' << kVersion << '\n'
        << "dims " << options_.dims << " objectives " << options_.num_objectives << '\n'
        << "next_id " << next_id_ << '\n'
        << "outstanding " << outstanding_.size();
    for (uint64_t id : outstanding_) out << ' ' << id;
    out << "\nrng " << rng_.Save();
    return out.str();
  }

  Status Load(const std::string& state) override {
    const Status bad = DataLossError("random search state is not one RandomSearch::Save wrote");
    std::istringstream in(state);
    std::string magic, version;
    uint64_t dims = 0, objectives = 0, next_id = 0, count = 0;
    if (!(in >> magic >> version) || magic != kMagic || version != kVersion) return bad;
    if (!ReadField(in, "dims", dims) || !ReadField(in, "objectives", objectives) ||
        !ReadField(in, "next_id", next_id) || !ReadField(in, "outstanding", count) || count > next_id) {
      return bad;
    }
    std::set<uint64_t> outstanding;
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t id = 0;
      std::string number;
      if (!(in >> number)) return bad;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), id);
      if (ec != std::errc() || end != number.data() + number.size() || id >= next_id) return bad;
      if (!outstanding.empty() && id <= *outstanding.rbegin()) return bad;
      outstanding.insert(outstanding.end(), id);
    }
    std::string word, rng_state;
    if (!(in >> word) || word != "rng" || in.get() != ' ' || !std::getline(in, rng_state, '\0')) return bad;
    Rng rng(0);
    if (!rng.Load(rng_state).ok()) return bad;
    if (dims != options_.dims || objectives != options_.num_objectives) {
      return InvalidArgumentError("random search state is for dims " + std::to_string(dims) +
                                  ", objectives " + std::to_string(objectives) +
                                  "; this optimizer has dims " + std::to_string(options_.dims) +
                                  ", objectives " + std::to_string(options_.num_objectives));
    }
    next_id_ = next_id;
    outstanding_ = std::move(outstanding);
    rng_ = rng;
    return Status::Ok();
  }

 private:
  Status Close(uint64_t id) {
    if (outstanding_.erase(id) == 0) {
      return NotFoundError("candidate " + std::to_string(id) +
                           " is not outstanding (never asked, or already told)");
    }
    return Status::Ok();
  }

  const OptimizerOptions options_;
  Rng rng_;
  uint64_t next_id_ = 0;
  std::set<uint64_t> outstanding_;  // asked, not yet told
};

}  // namespace

Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const OptimizerOptions& options) {
  if (options.dims == 0) return InvalidArgumentError("random search: dims must be >= 1");
  if (options.num_objectives == 0) return InvalidArgumentError("random search: num_objectives must be >= 1");
  return std::unique_ptr<Optimizer>(std::make_unique<RandomSearch>(options));
}

}  // namespace hpo::search
