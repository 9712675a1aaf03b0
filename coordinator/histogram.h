// Histogram: counts of observations in fixed buckets, with their sum and count, as Prometheus
// histograms report them (coordinator/metrics.h writes them out).
//
// A plain value, not thread-safe: its owner guards it (e.g. GroupCommitter's mutex).
#ifndef HPO_COORDINATOR_HISTOGRAM_H_
#define HPO_COORDINATOR_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace hpo::coordinator {

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds (inclusive), ascending; a last bucket (+Inf) holds everything
  // above them.
  explicit Histogram(std::vector<double> bounds);

  void Observe(double value);

  const std::vector<double>& bounds() const { return bounds_; }
  // Per bucket (not cumulative); one more entry than bounds(), the last for +Inf.
  const std::vector<uint64_t>& counts() const { return counts_; }
  double sum() const { return sum_; }
  uint64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  double sum_ = 0.0;
  uint64_t count_ = 0;
};

// Latency buckets in seconds, 0.5 ms to 60 s (long polls wait up to their wait_ms).
const std::vector<double>& LatencyBucketsSeconds();
// Size buckets 1, 2, 4, ..., 1024 (e.g. change sets per commit group).
const std::vector<double>& SizeBuckets();

}  // namespace hpo::coordinator

#endif  // HPO_COORDINATOR_HISTOGRAM_H_
