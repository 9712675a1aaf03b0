// The small toolkit every bench shares: tables that print either as aligned text or as
// one JSON object per row, summary statistics, a wall + CPU stopwatch, and facts about the machine (load
// average, resident memory).
//
// Not thread-safe: the bench runs on one thread. A Table writes to stdout; a Reporter owns nothing but its
// mode.
#ifndef HPO_BENCH_COMMON_REPORT_H_
#define HPO_BENCH_COMMON_REPORT_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace hpo::bench {

// One cell: nothing ("-" in text, null in JSON), text, a number or a whole number.
using Value = std::variant<std::monostate, std::string, double, int64_t>;

// A number, or nothing when the optional is empty.
Value Opt(const std::optional<double>& v);

struct Column {
  enum class Format {
    kText,   // strings as they are
    kFixed,  // %.<precision>f
    kSci,    // %.<precision>e
    kAuto,   // %.<precision>g
    kRatio,  // %.<precision>f followed by "x"
  };
  std::string key;     // the JSON field name
  std::string header;  // the text table's heading
  Format format = Format::kAuto;
  int precision = 4;
};

// Where rows go: text tables or JSON lines.
class Reporter {
 public:
  explicit Reporter(bool json) : json_(json) {}
  bool json() const { return json_; }

  // A line of prose in text mode ("# ..." is not added); in JSON mode {"section":..,"note":..}.
  void Note(const std::string& section, const std::string& text) const;

 private:
  bool json_;
};

// A table of one section. In JSON mode each Add prints {"section":..,"table":..,<key>:<value>,...} at
// once; in text mode the rows are kept and printed, aligned under a title, by Print (or the destructor).
// `columns` followed by the wall-time median, min and max and the median CPU time (seconds) that
// every table of repeated runs ends with.
std::vector<Column> WithRunTimeColumns(std::vector<Column> columns);

class Table {
 public:
  Table(const Reporter& reporter, std::string section, std::string name, std::string title,
        std::vector<Column> columns);
  ~Table();
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;

  // REQUIRES: row.size() == the number of columns.
  void Add(std::vector<Value> row);

  // Prints the kept rows (text mode); then the table is empty. Does nothing in JSON mode.
  void Print();

 private:
  std::string Cell(size_t column, const Value& v) const;

  const Reporter& reporter_;
  std::string section_;
  std::string name_;
  std::string title_;
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;  // formatted cells, text mode only
};

// Median, smallest, largest and mean of a sample; all NaN for an empty one.
struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  double mean = 0.0;
  size_t count = 0;
};
Summary Summarize(std::vector<double> values);

// Wall time (steady clock) and CPU time of this process (getrusage, user + system), from construction.
class Stopwatch {
 public:
  Stopwatch();
  double WallSeconds() const;
  double CpuSeconds() const;

 private:
  std::chrono::steady_clock::time_point wall_start_;
  double cpu_start_;
};

// User + system CPU seconds this process has used.
double ProcessCpuSeconds();

// The 1-, 5- and 15-minute load averages from /proc/loadavg; -1 each when unreadable.
struct LoadAverage {
  double one = -1, five = -1, fifteen = -1;
};
LoadAverage ReadLoadAverage();
std::string LoadAverageText();  // "1.23 0.98 0.75"

// CPU seconds every process of the machine has used (/proc/stat's first line: user, nice, system, irq,
// softirq and steal); -1 when unreadable. Its rise over a run, less the bench's own, is other load.
double MachineBusySeconds();

// Heap accounting (heap_count.cc replaces the global operator new and delete of this program, so that every
// C++ allocation, pagmo's included, is counted by its usable size): the bytes live now, and the most live
// since the last ResetHeapPeak. Unlike the resident set size, this does not hide memory that the allocator
// kept from an earlier call and hands out again.
size_t HeapLiveBytes();
void HeapAdded(size_t bytes);    // called by operator new
void HeapRemoved(size_t bytes);  // called by operator delete
size_t HeapPeakBytes();
void ResetHeapPeak();  // the peak := the bytes live now

}  // namespace hpo::bench

#endif  // HPO_BENCH_COMMON_REPORT_H_
