// Sections sort and hv: the speed of non-dominated sorting and of hypervolume at N = 1,000 / 10,000 /
// 50,000 points, ours beside pagmo2's fast_non_dominated_sorting and hypervolume::compute on the very same
// points (generated as ../shared/peers/pagmo_bench.cpp does: uniform in the unit cube for sorting; mutually
// non-dominated points on the unit sphere's positive orthant or on the simplex sum f = 1 for hypervolume,
// reference 1.1 in every objective).
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "base/rng.h"
#include "bench/search/bench.h"
#include "bench/search/pagmo_peer.h"
#include "search/hypervolume.h"
#include "search/pareto.h"

namespace hpo::bench {
namespace {

enum class Kind { kUniform, kSimplex, kSphere };

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kUniform:
      return "uniform";
    case Kind::kSimplex:
      return "simplex";
    case Kind::kSphere:
      return "sphere";
  }
  return "?";
}

// n points with m coordinates: uniform on [0, 1)^m; uniform on the simplex sum = 1 (for m = 2 the line
// f1 + f2 = 1); or uniform on the positive orthant of the unit sphere.
Points MakePoints(size_t n, size_t m, Kind kind, uint64_t seed) {
  Rng rng(seed);
  Points points(n, std::vector<double>(m));
  for (std::vector<double>& p : points) {
    double norm = 0;
    for (double& v : p) {
      switch (kind) {
        case Kind::kUniform:
          v = rng.Uniform01();
          break;
        case Kind::kSimplex:
          v = -std::log(1.0 - rng.Uniform01());
          norm += v;
          break;
        case Kind::kSphere:
          v = std::abs(rng.Normal());
          norm += v * v;
          break;
      }
    }
    if (kind == Kind::kSphere) norm = std::sqrt(norm);
    if (kind != Kind::kUniform) {
      for (double& v : p) v /= norm;
    }
  }
  return points;
}

// Repeats for a call at N points: more for the short calls, so that the median means something.
int Repeats(size_t n, bool quick) {
  if (n <= 1'000) return quick ? 5 : 21;
  if (n <= 10'000) return quick ? 3 : 7;
  return quick ? 3 : 5;
}

struct Timings {
  std::vector<double> wall, cpu;
  void Add(const Stopwatch& w) {
    const double wall_s = w.WallSeconds(), cpu_s = w.CpuSeconds();
    wall.push_back(wall_s);
    cpu.push_back(cpu_s);
  }
};

// The most heap memory live during one call of `run`, above what was live before it, in bytes.
template <typename F>
double PeakHeapGrowth(F&& run) {
  ResetHeapPeak();
  const size_t before = HeapLiveBytes();
  run();
  return static_cast<double>(HeapPeakBytes() - before);
}

}  // namespace

Status RunSortSection(const BenchOptions& options, const Reporter& reporter) {
  const std::vector<size_t> sizes = {1'000, 10'000, 50'000};
  const std::vector<size_t> objectives = {2, 3};
  constexpr size_t kPagmoMaxPoints = 10'000;  // it stores every dominance pair: 5.4 GB at 50,000

  struct Case {
    size_t m = 0, n = 0;
    Points points;
    Timings ours, pagmo;
    size_t fronts = 0, pagmo_fronts = 0;
    std::vector<size_t> rank;
    bool ranks_agree = false;
    double growth = 0, pagmo_growth = 0;  // peak heap bytes a call adds
    bool pagmo_ran = false;
  };
  std::vector<Case> cases;
  for (size_t m : objectives) {
    for (size_t n : sizes) {
      Case c;
      c.m = m;
      c.n = n;
      c.points = MakePoints(n, m, Kind::kUniform, 1000 * n + m);
      cases.push_back(std::move(c));
    }
  }
  // Ours first, then pagmo's (the heap count does not depend on the order; the timings' caches might).
  for (Case& c : cases) {
    search::NondominatedSorting sorted;
    c.growth = PeakHeapGrowth([&] { sorted = search::NondominatedSort(c.points); });
    c.fronts = sorted.fronts.size();
    c.rank = sorted.rank;
    for (int r = 0; r < Repeats(c.n, options.quick); ++r) {
      const Stopwatch watch;
      search::NondominatedSorting again = search::NondominatedSort(c.points);
      c.ours.Add(watch);
      if (again.rank != c.rank) return InternalError("NondominatedSort is not repeatable");
    }
  }
  if (kHavePagmo) {
    for (Case& c : cases) {
      if (c.n > kPagmoMaxPoints) continue;
      const int reps = c.n <= 1'000 ? Repeats(c.n, options.quick) : (options.quick ? 1 : 3);
      for (int r = 0; r < reps; ++r) {
        Result<PagmoSortRun> run = InternalError("not run");
        const double growth = PeakHeapGrowth([&] { run = RunPagmoSort(c.points); });
        if (!run.ok()) return run.status();
        if (r == 0) {
          c.pagmo_growth = growth;
          c.pagmo_fronts = run->fronts;
          c.ranks_agree = run->rank == c.rank;
        }
        c.pagmo.wall.push_back(run->wall_s);
        c.pagmo.cpu.push_back(run->cpu_s);
      }
      c.pagmo_ran = true;
    }
  }

  Table table(
      reporter, "sort", "speed",
      "Non-dominated sorting of N uniform random points: seconds per call (median, min, max over the "
      "repeats), CPU seconds, fronts, and the peak heap memory a call adds (all C++ allocations counted; "
      "the input points themselves excluded)",
      {{"objectives", "M", Column::Format::kAuto},
       {"n", "N", Column::Format::kAuto},
       {"impl", "impl", Column::Format::kText},
       {"repeats", "reps", Column::Format::kAuto},
       {"median_s", "median s", Column::Format::kSci, 3},
       {"min_s", "min s", Column::Format::kSci, 3},
       {"max_s", "max s", Column::Format::kSci, 3},
       {"cpu_median_s", "cpu med s", Column::Format::kSci, 3},
       {"fronts", "fronts", Column::Format::kAuto},
       {"peak_heap_growth_mib", "heap +MiB", Column::Format::kFixed, 2},
       {"bytes_per_point", "B/point", Column::Format::kFixed, 0},
       {"note", "note", Column::Format::kText}});
  Table ratios(
      reporter, "sort", "ratio_to_pagmo",
      "Sorting: pagmo2 / ours (how many times faster ours is), and whether both give every point the "
      "same front",
      {{"objectives", "M", Column::Format::kAuto},
       {"n", "N", Column::Format::kAuto},
       {"speedup_wall", "wall pagmo/ours", Column::Format::kRatio, 1},
       {"speedup_cpu", "cpu pagmo/ours", Column::Format::kRatio, 1},
       {"ranks_agree", "same fronts", Column::Format::kText}});
  for (const Case& c : cases) {
    const Summary wall = Summarize(c.ours.wall), cpu = Summarize(c.ours.cpu);
    table.Add({static_cast<int64_t>(c.m), static_cast<int64_t>(c.n), "ours",
               static_cast<int64_t>(c.ours.wall.size()), wall.median, wall.min, wall.max, cpu.median,
               static_cast<int64_t>(c.fronts), c.growth / 1048576.0, c.growth / static_cast<double>(c.n),
               ""});
    if (!c.pagmo_ran) {
      table.Add({static_cast<int64_t>(c.m), static_cast<int64_t>(c.n), "pagmo", Value{}, Value{}, Value{},
                 Value{}, Value{}, Value{}, Value{}, Value{},
                 std::string(kHavePagmo ? "skipped (memory)" : kPagmoMissing)});
      continue;
    }
    const Summary pwall = Summarize(c.pagmo.wall), pcpu = Summarize(c.pagmo.cpu);
    table.Add({static_cast<int64_t>(c.m), static_cast<int64_t>(c.n), "pagmo",
               static_cast<int64_t>(c.pagmo.wall.size()), pwall.median, pwall.min, pwall.max, pcpu.median,
               static_cast<int64_t>(c.pagmo_fronts), c.pagmo_growth / 1048576.0,
               c.pagmo_growth / static_cast<double>(c.n), ""});
    ratios.Add({static_cast<int64_t>(c.m), static_cast<int64_t>(c.n), pwall.median / wall.median,
                pcpu.median / cpu.median, c.ranks_agree ? "yes" : "NO"});
  }
  table.Print();
  ratios.Print();
  if (!kHavePagmo) reporter.Note("sort", std::string(kPagmoMissing) + " (no pagmo figures or ratios)");
  return Status::Ok();
}

Status RunHvSection(const BenchOptions& options, const Reporter& reporter) {
  struct Case {
    size_t m = 0, n = 0;
    Kind kind = Kind::kSphere;
    Points points;
    Timings ours, pagmo;
    double value = 0, pagmo_value = 0;
    std::string algorithm, pagmo_algorithm, pagmo_note;
  };
  std::vector<Case> cases;
  auto add = [&cases](size_t m, size_t n, Kind kind) {
    Case c;
    c.m = m;
    c.n = n;
    c.kind = kind;
    cases.push_back(std::move(c));
  };
  for (size_t m : {size_t{2}, size_t{3}}) {
    for (Kind kind : {Kind::kSphere, Kind::kSimplex}) {
      for (size_t n : {size_t{1'000}, size_t{10'000}, size_t{50'000}}) add(m, n, kind);
    }
  }
  for (Kind kind : {Kind::kSphere, Kind::kSimplex}) {
    for (size_t n : {size_t{1'000}, size_t{10'000}}) add(5, n, kind);
  }

  for (Case& c : cases) {
    c.points = MakePoints(c.n, c.m, c.kind, 2000 * c.n + 10 * c.m + static_cast<size_t>(c.kind));
    const std::vector<double> reference(c.m, 1.1);
    const int reps = c.m <= 3 ? Repeats(c.n, options.quick) : (c.n <= 1'000 && !options.quick ? 3 : 1);
    for (int r = 0; r < reps; ++r) {
      const Stopwatch watch;
      HPO_ASSIGN_OR_RETURN(search::HypervolumeResult hv, search::Hypervolume(c.points, reference));
      c.ours.Add(watch);
      c.value = hv.value;
      c.algorithm = std::string(search::HypervolumeAlgorithmName(hv.algorithm));
    }
    if (!kHavePagmo) {
      c.pagmo_note = kPagmoMissing;
      continue;
    }
    if (c.m > 3 && c.n > 1'000 && options.quick) {
      c.pagmo_note = "skipped (--quick; 3-7 s)";
      continue;
    }
    for (int r = 0; r < reps; ++r) {
      HPO_ASSIGN_OR_RETURN(PagmoHvRun run, RunPagmoHypervolume(c.points, reference));
      c.pagmo.wall.push_back(run.wall_s);
      c.pagmo.cpu.push_back(run.cpu_s);
      c.pagmo_value = run.value;
      c.pagmo_algorithm = run.algorithm;
    }
    std::fprintf(stderr, "hv: M=%zu %s N=%zu done\n", c.m, KindName(c.kind), c.n);
  }

  Table table(reporter, "hv", "speed",
              "Hypervolume of N mutually non-dominated points, reference 1.1: seconds per call (median, min, "
              "max over the repeats) and CPU seconds",
              {{"objectives", "M", Column::Format::kAuto},
               {"kind", "points", Column::Format::kText},
               {"n", "N", Column::Format::kAuto},
               {"impl", "impl", Column::Format::kText},
               {"algorithm", "algorithm", Column::Format::kText},
               {"repeats", "reps", Column::Format::kAuto},
               {"median_s", "median s", Column::Format::kSci, 3},
               {"min_s", "min s", Column::Format::kSci, 3},
               {"max_s", "max s", Column::Format::kSci, 3},
               {"cpu_median_s", "cpu med s", Column::Format::kSci, 3},
               {"hv", "hypervolume", Column::Format::kFixed, 10},
               {"note", "note", Column::Format::kText}});
  Table ratios(
      reporter, "hv", "ratio_to_pagmo",
      "Hypervolume: pagmo2 / ours (how many times faster ours is) and the relative difference of the "
      "two values",
      {{"objectives", "M", Column::Format::kAuto},
       {"kind", "points", Column::Format::kText},
       {"n", "N", Column::Format::kAuto},
       {"speedup_wall", "wall pagmo/ours", Column::Format::kRatio, 2},
       {"speedup_cpu", "cpu pagmo/ours", Column::Format::kRatio, 2},
       {"relative_difference", "|ours-pagmo|/pagmo", Column::Format::kSci, 1},
       {"note", "note", Column::Format::kText}});
  for (const Case& c : cases) {
    const Summary wall = Summarize(c.ours.wall), cpu = Summarize(c.ours.cpu);
    table.Add({static_cast<int64_t>(c.m), KindName(c.kind), static_cast<int64_t>(c.n), "ours", c.algorithm,
               static_cast<int64_t>(c.ours.wall.size()), wall.median, wall.min, wall.max, cpu.median, c.value,
               ""});
    if (c.pagmo.wall.empty()) {
      table.Add({static_cast<int64_t>(c.m), KindName(c.kind), static_cast<int64_t>(c.n), "pagmo", Value{},
                 Value{}, Value{}, Value{}, Value{}, Value{}, Value{}, c.pagmo_note});
      continue;
    }
    const Summary pwall = Summarize(c.pagmo.wall), pcpu = Summarize(c.pagmo.cpu);
    table.Add({static_cast<int64_t>(c.m), KindName(c.kind), static_cast<int64_t>(c.n), "pagmo",
               c.pagmo_algorithm, static_cast<int64_t>(c.pagmo.wall.size()), pwall.median, pwall.min,
               pwall.max, pcpu.median, c.pagmo_value, ""});
    const double speedup = pwall.median / wall.median;
    ratios.Add({static_cast<int64_t>(c.m), KindName(c.kind), static_cast<int64_t>(c.n), speedup,
                pcpu.median / cpu.median, std::abs(c.value - c.pagmo_value) / c.pagmo_value,
                speedup < 1 ? "ours slower (" + std::to_string(wall.median) + " s)" : ""});
  }
  table.Print();
  ratios.Print();
  if (!kHavePagmo) reporter.Note("hv", std::string(kPagmoMissing) + " (no pagmo figures or ratios)");
  return Status::Ok();
}

}  // namespace hpo::bench
