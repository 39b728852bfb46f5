// int8 vs f32 inference throughput of the MNIST MLP (784-256-128-10, ReLU)
// at batch 256, side by side in one run, at the current thread count
// (OMP_NUM_THREADS). The f32 model is joule's own Sequential in inference
// mode; the int8 one is what QuantizeModel builds (QuantizeInput and three
// QuantizedLinear layers with fused ReLU and requantization), here with
// activation ranges taken from one batch of MNIST test images.
// Prints samples/s of each and the ratio. Not a GoogleTest: run it by hand.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

#include "joule/data.hpp"
#include "joule/nn.hpp"
#include "joule/nn_quantized.hpp"

namespace joule {
namespace {

constexpr std::int64_t kBatch = 256;
constexpr double kSecondsPerRound = 1.0;
constexpr int kRounds = 5;  // the best round counts: the machine is shared

double SamplesPerSecond(Sequential& model, const Tensor& x) {
  for (int i = 0; i < 20; ++i) model.Forward(x, false);  // primitives, buffers
  double best = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::int64_t calls = 0;
    const auto start = std::chrono::steady_clock::now();
    double seconds = 0;
    while (seconds < kSecondsPerRound) {
      model.Forward(x, false);
      ++calls;
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    best = std::max(best, static_cast<double>(calls * kBatch) / seconds);
  }
  return best;
}

Tensor& Param(Layer& layer, const char* name) {
  for (Parameter* p : layer.Parameters()) {
    if (p->name == name) return p->value;
  }
  std::abort();
}

// The int8 MLP of `f32` with minmax activation ranges from the batch x.
Sequential Int8Mlp(Sequential& f32, const Tensor& x) {
  std::vector<quant::U8Params> inputs;
  const Tensor* h = &x;
  for (std::size_t i = 0; i < f32.size(); ++i) {
    if (f32.layer(i).type() == "Linear") {
      const auto [lo, hi] = std::minmax_element(h->f32(), h->f32() + h->numel());
      inputs.push_back(quant::ChooseU8Params(*lo, *hi));
    }
    h = &f32.layer(i).Forward(*h, false);
  }
  Sequential int8;
  int8.Add(quant::MakeQuantizeInput(inputs[0]));
  for (std::size_t b = 0; b < 3; ++b) {
    Layer& linear = f32.layer(2 * b);
    Tensor q, scales;
    quant::QuantizeRowsS8(Param(linear, "weight"), q, scales);
    const bool last = b == 2;
    int8.Add(quant::MakeQuantizedLinear(q, scales, Param(linear, "bias"), inputs[b], !last, !last,
                                        last ? quant::U8Params{} : inputs[b + 1]));
  }
  return int8;
}

int Main() {
  SetNumThreads(0);
  Dataset test = LoadMnist(false);
  std::vector<std::int64_t> rows(kBatch);
  std::iota(rows.begin(), rows.end(), 0);
  const Tensor x = Subset(test, rows).x;
  Rng rng(1);
  Sequential f32 = MakeModel("mlp", x.shape(), 10, rng);
  Sequential int8 = Int8Mlp(f32, x);
  const double f32_rate = SamplesPerSecond(f32, x);
  const double int8_rate = SamplesPerSecond(int8, x);
  std::printf("mlp 784-256-128-10, batch %lld, %d thread(s)\n", static_cast<long long>(kBatch),
              NumThreads());
  std::printf("f32  %10.0f samples/s\n", f32_rate);
  std::printf("int8 %10.0f samples/s\n", int8_rate);
  std::printf("int8 / f32 = %.2fx\n", int8_rate / f32_rate);
  return 0;
}

}  // namespace
}  // namespace joule

int main() { return joule::Main(); }
