#include "base/rng.h"

#include <cmath>
#include <sstream>

namespace hpo {

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t DeriveSeed(uint64_t seed, uint64_t stream) { return Mix64(Mix64(seed) ^ Mix64(~stream)); }

__extension__ typedef unsigned __int128 Uint128;

uint64_t Rng::UniformInt(uint64_t n) {
  // Lemire, "Fast random integer generation in an interval" (2019).
  Uint128 m = static_cast<Uint128>(engine_()) * n;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<Uint128>(engine_()) * n;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Rng::Normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  double u, v, s;
  do {
    u = 2.0 * Uniform01() - 1.0;
    v = 2.0 * Uniform01() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  const double factor = std::sqrt(-2.0 * std::log(s) / s);
  spare_normal_ = v * factor;
  has_spare_normal_ = true;
  return u * factor;
}

std::string Rng::Save() const {
  std::ostringstream out;
  out << engine_ << ' ' << (has_spare_normal_ ? 1 : 0) << ' ';
  out.precision(17);
  out << std::hexfloat << spare_normal_;
  return out.str();
}

Status Rng::Load(const std::string& state) {
  std::istringstream in(state);
  std::mt19937_64 engine;
  int has_spare = 0;
  in >> engine >> has_spare;
  std::string spare_text;
  in >> spare_text;
  if (in.fail() || (has_spare != 0 && has_spare != 1)) {
    return DataLossError("random generator state is not one Rng::Save wrote");
  }
  char* end = nullptr;
  const double spare = std::strtod(spare_text.c_str(), &end);
  if (end == spare_text.c_str()) return DataLossError("random generator state has a bad spare normal");
  engine_ = engine;
  has_spare_normal_ = has_spare == 1;
  spare_normal_ = spare;
  return Status::Ok();
}

}  // namespace hpo
