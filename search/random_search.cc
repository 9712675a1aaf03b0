#include "search/random_search.h"

#include <charconv>
#include <cmath>
#include <numeric>
#include <set>
#include <sstream>
#include <utility>

#include "base/rng.h"

namespace hpo::search {
namespace {

// State format: see random_search.h.
constexpr char kMagic[] = "hpo.random_search";
constexpr char kVersion1[] = "v1";  // no latin_hypercube line: no start
constexpr char kVersion2[] = "v2";

// Reads the word `word` then an unsigned decimal; false on anything else.
bool ReadField(std::istream& in, const char* word, uint64_t& value) {
  std::string token, number;
  if (!(in >> token >> number) || token != word) return false;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  return ec == std::errc() && end == number.data() + number.size();
}

// A gene uniform in stratum s of n: (s + u) / n, stepped by an ulp or two where rounding left it
// outside, so that floor(x * n) == s holds exactly (and so x < 1). REQUIRES: s < n, 0 <= u < 1.
double InStratum(uint64_t s, uint64_t n, double u) {
  const double strata = static_cast<double>(n), stratum = static_cast<double>(s);
  double x = (stratum + u) / strata;
  while (x > 0.0 && std::floor(x * strata) > stratum) x = std::nextafter(x, 0.0);
  while (std::floor(x * strata) < stratum) x = std::nextafter(x, 1.0);
  return x;
}

// The Latin hypercube design of n points in `dims` dimensions, row-major (point k at k * dims):
// for each dimension in turn, a Fisher-Yates permutation of the strata, then one uniform draw per
// point for its place inside its stratum.
std::vector<double> LatinHypercube(uint64_t n, size_t dims, uint64_t design_seed) {
  std::vector<double> design(n * dims);
  Rng rng(design_seed);
  std::vector<uint64_t> stratum(n);
  for (size_t j = 0; j < dims; ++j) {
    std::iota(stratum.begin(), stratum.end(), uint64_t{0});
    for (uint64_t k = n; k > 1; --k) std::swap(stratum[k - 1], stratum[rng.UniformInt(k)]);
    for (uint64_t k = 0; k < n; ++k) design[k * dims + j] = InStratum(stratum[k], n, rng.Uniform01());
  }
  return design;
}

class RandomSearch final : public Optimizer {
 public:
  explicit RandomSearch(const RandomSearchOptions& options)
      : options_(options.base),
        rng_(options.base.seed),
        lhs_size_(options.latin_hypercube),
        lhs_seed_(DeriveSeed(options.base.seed, kLatinHypercubeStream)),
        lhs_design_(LatinHypercube(lhs_size_, options_.dims, lhs_seed_)) {}

  std::vector<Candidate> Ask(size_t n) override {
    std::vector<Candidate> candidates(n);
    for (Candidate& c : candidates) {
      c.id = next_id_++;
      if (c.id < lhs_size_) {
        const auto first = lhs_design_.begin() + static_cast<std::ptrdiff_t>(c.id * options_.dims);
        c.x.assign(first, first + static_cast<std::ptrdiff_t>(options_.dims));
      } else {
        c.x.resize(options_.dims);
        for (double& gene : c.x) gene = rng_.Uniform01();
      }
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
    out << kMagic << ' ' << kVersion2 << '\n'
        << "dims " << options_.dims << " objectives " << options_.num_objectives << '\n'
        << "latin_hypercube " << lhs_size_ << ' ' << lhs_seed_ << '\n'
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
    uint64_t dims = 0, objectives = 0, lhs_size = 0, lhs_seed = 0, next_id = 0, count = 0;
    if (!(in >> magic >> version) || magic != kMagic || (version != kVersion1 && version != kVersion2)) {
      return bad;
    }
    if (!ReadField(in, "dims", dims) || !ReadField(in, "objectives", objectives)) return bad;
    if (version == kVersion2) {
      std::string number;
      if (!ReadField(in, "latin_hypercube", lhs_size) || !(in >> number)) return bad;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), lhs_seed);
      if (ec != std::errc() || end != number.data() + number.size()) return bad;
      if (dims == 0 || lhs_size > kMaxLatinHypercubeGenes / dims) return bad;
    }
    if (!ReadField(in, "next_id", next_id) || !ReadField(in, "outstanding", count) || count > next_id) {
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
    std::vector<double> design;
    if (lhs_size == lhs_size_ && lhs_seed == lhs_seed_) {
      design = lhs_design_;
    } else {
      design = LatinHypercube(lhs_size, options_.dims, lhs_seed);
    }
    next_id_ = next_id;
    outstanding_ = std::move(outstanding);
    rng_ = rng;
    lhs_size_ = lhs_size;
    lhs_seed_ = lhs_seed;
    lhs_design_ = std::move(design);
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
  Rng rng_;                         // the uniform draws, from candidate lhs_size_ on
  uint64_t lhs_size_;               // candidates 0..lhs_size_-1 come from the design
  uint64_t lhs_seed_;               // the design's generator seed
  std::vector<double> lhs_design_;  // lhs_size_ * dims genes, row-major
  uint64_t next_id_ = 0;
  std::set<uint64_t> outstanding_;  // asked, not yet told
};

}  // namespace

Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const RandomSearchOptions& options) {
  const OptimizerOptions& base = options.base;
  if (base.dims == 0) return InvalidArgumentError("random search: dims must be >= 1");
  if (base.num_objectives == 0) return InvalidArgumentError("random search: num_objectives must be >= 1");
  if (options.latin_hypercube > kMaxLatinHypercubeGenes / base.dims) {
    return InvalidArgumentError("random search: latin_hypercube " + std::to_string(options.latin_hypercube) +
                                " times dims " + std::to_string(base.dims) + " exceeds " +
                                std::to_string(kMaxLatinHypercubeGenes) + " genes");
  }
  return std::unique_ptr<Optimizer>(std::make_unique<RandomSearch>(options));
}

Result<std::unique_ptr<Optimizer>> MakeRandomSearch(const OptimizerOptions& options) {
  return MakeRandomSearch(RandomSearchOptions{.base = options, .latin_hypercube = 0});
}

}  // namespace hpo::search
