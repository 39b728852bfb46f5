// oneDNN matmul throughput on one thread: the 1024^3 peak per dtype, and the
// matmuls of an MLP 784-256-128-10's Linear layers (forward y = x W^T,
// backward dX = dY W and dW = dY^T X) at batch 128 and 1024, each as GFLOP/s
// and as a fraction of the peak of its dtype measured in the same run.
//
//   kernels_bench [--benchmark_filter=...]
//
// Counters: GFLOP/s (GOP/s for u8*s8), and peak_frac = this op's rate over
// the 1024^3 rate of the same dtype, measured at start-up by PeakFlops().
// Rates are per second of CPU time (Google Benchmark's default, and the same
// clock in PeakFlops): with one thread that is the time the kernel actually
// ran, so other jobs on a shared machine do not deflate the figures. The
// "Time" column is wall-clock and does include them.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>

#include "joule/tensor.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

constexpr std::int64_t kPeakSize = 1024;
constexpr double kPeakSeconds = 2.0;  // how long PeakFlops() runs each dtype

Tensor Random(const Shape& shape, DType dtype, Rng& rng) {
  Tensor t(shape, dtype);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    switch (dtype) {
      case DType::kF32:
        t.f32()[i] = rng.Normal();
        break;
      case DType::kBF16:
        t.data<BF16>()[i] = FloatToBF16(rng.Normal());
        break;
      case DType::kU8:
        t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng.Below(256));
        break;
      case DType::kS8:
        t.data<std::int8_t>()[i] = static_cast<std::int8_t>(static_cast<int>(rng.Below(256)) - 128);
        break;
      case DType::kS32:
        break;
    }
  }
  return t;
}

// The three operands of a square matmul of the given input dtype.
struct SquareOperands {
  Tensor a, b, c;
};
SquareOperands MakeSquare(DType dtype) {
  Rng rng(1);
  DType b_dtype = dtype == DType::kU8 ? DType::kS8 : dtype;
  DType c_dtype = dtype == DType::kU8 ? DType::kS32 : DType::kF32;
  return {Random({kPeakSize, kPeakSize}, dtype, rng), Random({kPeakSize, kPeakSize}, b_dtype, rng),
          Tensor({kPeakSize, kPeakSize}, c_dtype)};
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// FLOP/s (per CPU second) of the 1024^3 matmul of `dtype`, measured once per
// run, on first use.
double PeakFlops(DType dtype) {
  static std::map<DType, double> peaks;
  auto it = peaks.find(dtype);
  if (it != peaks.end()) return it->second;
  SquareOperands m = MakeSquare(dtype);
  Matmul(m.a, m.b, Tensor(), m.c);  // creates the primitive, warms caches
  int reps = 0;
  double start = CpuSeconds(), elapsed = 0;
  do {
    Matmul(m.a, m.b, Tensor(), m.c);
    ++reps;
    elapsed = CpuSeconds() - start;
  } while (elapsed < kPeakSeconds);
  double flops = 2.0 * kPeakSize * kPeakSize * kPeakSize * reps / elapsed;
  peaks[dtype] = flops;
  return flops;
}

void SetFlopCounters(benchmark::State& state, double flops_per_iter, DType dtype,
                     const char* unit) {
  state.counters[unit] =
      benchmark::Counter(flops_per_iter * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_frac"] = benchmark::Counter(flops_per_iter / PeakFlops(dtype),
                                                   benchmark::Counter::kIsIterationInvariantRate);
}

void BM_MatmulPeak(benchmark::State& state, DType dtype) {
  SquareOperands m = MakeSquare(dtype);
  Matmul(m.a, m.b, Tensor(), m.c);
  for (auto _ : state) {
    Matmul(m.a, m.b, Tensor(), m.c);
    benchmark::DoNotOptimize(m.c.raw());
  }
  SetFlopCounters(state, 2.0 * kPeakSize * kPeakSize * kPeakSize, dtype,
                  dtype == DType::kU8 ? "GOP/s" : "GFLOP/s");
}

enum class LinearPass { kForward, kBackwardData, kBackwardWeights };

// One matmul of a Linear layer in -> out at batch `batch`; W is [out, in] as
// in nn's Linear, so every pass reads it through a transpose or as stored.
void BM_Linear(benchmark::State& state, DType dtype, LinearPass pass) {
  const std::int64_t batch = state.range(0), in = state.range(1), out = state.range(2);
  Rng rng(2);
  Tensor x = Random({batch, in}, dtype, rng), w = Random({out, in}, dtype, rng);
  Tensor dy = Random({batch, out}, dtype, rng), bias = Random({out}, DType::kF32, rng);
  Tensor result;
  auto run = [&] {
    switch (pass) {
      case LinearPass::kForward:  // y[B,out] = x[B,in] W^T + b
        Matmul(x, w, bias, result, {.trans_a = false, .trans_b = true});
        break;
      case LinearPass::kBackwardData:  // dX[B,in] = dY[B,out] W[out,in]
        Matmul(dy, w, Tensor(), result);
        break;
      case LinearPass::kBackwardWeights:  // dW[out,in] = dY^T[out,B] X[B,in]
        Matmul(dy, x, Tensor(), result, {.trans_a = true, .trans_b = false});
        break;
    }
  };
  switch (pass) {
    case LinearPass::kForward:
      result = Tensor({batch, out});
      break;
    case LinearPass::kBackwardData:
      result = Tensor({batch, in});
      break;
    case LinearPass::kBackwardWeights:
      result = Tensor({out, in});
      break;
  }
  run();
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(result.raw());
  }
  SetFlopCounters(state, 2.0 * batch * in * out, dtype, "GFLOP/s");
}

void LinearShapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"batch", "in", "out"});
  for (std::int64_t batch : {128, 1024}) {
    b->Args({batch, 784, 256});
    b->Args({batch, 256, 128});
    b->Args({batch, 128, 10});
  }
}

BENCHMARK_CAPTURE(BM_MatmulPeak, f32, DType::kF32)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatmulPeak, bf16, DType::kBF16)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_MatmulPeak, u8s8, DType::kU8)->Unit(benchmark::kMillisecond);

BENCHMARK_CAPTURE(BM_Linear, f32_fwd, DType::kF32, LinearPass::kForward)->Apply(LinearShapes);
BENCHMARK_CAPTURE(BM_Linear, f32_bwd_data, DType::kF32, LinearPass::kBackwardData)
    ->Apply(LinearShapes);
BENCHMARK_CAPTURE(BM_Linear, f32_bwd_weights, DType::kF32, LinearPass::kBackwardWeights)
    ->Apply(LinearShapes);
BENCHMARK_CAPTURE(BM_Linear, bf16_fwd, DType::kBF16, LinearPass::kForward)->Apply(LinearShapes);
BENCHMARK_CAPTURE(BM_Linear, bf16_bwd_data, DType::kBF16, LinearPass::kBackwardData)
    ->Apply(LinearShapes);
BENCHMARK_CAPTURE(BM_Linear, bf16_bwd_weights, DType::kBF16, LinearPass::kBackwardWeights)
    ->Apply(LinearShapes);

}  // namespace
}  // namespace joule

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  joule::SetNumThreads(1);  // every figure here is one core's
  // The peaks first, side by side, so that the ratios come from one run.
  const double f32 = joule::PeakFlops(joule::DType::kF32);
  const double bf16 = joule::PeakFlops(joule::DType::kBF16);
  const double u8s8 = joule::PeakFlops(joule::DType::kU8);
  std::printf(
      "matmul %lldx%lldx%lld, 1 thread, per CPU second: f32 %.1f GFLOP/s, bf16 %.1f GFLOP/s (%.2fx "
      "f32), "
      "u8*s8 %.1f GOP/s (%.2fx f32)\n",
      static_cast<long long>(joule::kPeakSize), static_cast<long long>(joule::kPeakSize),
      static_cast<long long>(joule::kPeakSize), f32 * 1e-9, bf16 * 1e-9, bf16 / f32, u8s8 * 1e-9,
      u8s8 / f32);
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
