// int8 PTQ and QAT of Linear/ReLU models: the model's structure read into
// blocks, histogram calibration of the activation ranges, and the int8 and
// QAT models built from both. See joule/compress/quantize.hpp.
#include "joule/compress/quantize.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "joule/nn_quantized.hpp"

namespace joule {
namespace {

using quant::U8Params;

// One Linear of the f32 model and whether a ReLU follows it.
struct Block {
  std::size_t layer = 0;  // index of the Linear (QAT: of the QatLinear)
  bool relu = false;
};

std::string LayerName(Sequential& model, std::size_t i) {
  return "layer " + std::to_string(i) + " (" + model.layer(i).type() + ")";
}

std::vector<Block> ReadBlocks(Sequential& model) {
  std::vector<Block> blocks;
  for (std::size_t i = 0; i < model.size(); ++i) {
    const std::string type = model.layer(i).type();
    if (type == "Linear") {
      blocks.push_back({i, false});
    } else if (type == "ReLU") {
      if (blocks.empty() || blocks.back().relu) {
        throw Error("cannot quantize " + LayerName(model, i) +
                    ": a ReLU is fused into the Linear before it, and there is none directly "
                    "before this one");
      }
      blocks.back().relu = true;
    } else if (type != "Dropout" && type != "Flatten") {
      throw Error("cannot quantize " + LayerName(model, i) +
                  ": int8 quantization handles Linear, ReLU, Dropout and Flatten layers only "
                  "(the mlp model); compress this model with prune or distill instead");
    }
  }
  if (blocks.empty()) throw Error("cannot quantize a model without a Linear layer");
  return blocks;
}

// ---------------------------------------------------------------------------
// Calibration

constexpr int kBins = 2048;

// Counts of values in kBins equal bins over [lo, hi] (lo <= 0 <= hi).
struct Histogram {
  float lo = 0, hi = 0;
  std::vector<double> counts = std::vector<double>(kBins, 0.0);

  float width() const { return (hi - lo) / kBins; }
  float center(int b) const { return lo + (static_cast<float>(b) + 0.5f) * width(); }
  void Add(const Tensor& x) {
    const float w = width();
    if (!(w > 0)) {
      counts[0] += static_cast<double>(x.numel());
      return;
    }
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const int b = static_cast<int>((x.f32()[i] - lo) / w);
      ++counts[static_cast<std::size_t>(std::clamp(b, 0, kBins - 1))];
    }
  }
};

// The value below which `fraction` of the histogram's mass lies.
float Quantile(const Histogram& h, double fraction) {
  const double total = std::accumulate(h.counts.begin(), h.counts.end(), 0.0);
  double seen = 0;
  for (int b = 0; b < kBins; ++b) {
    seen += h.counts[static_cast<std::size_t>(b)];
    if (seen >= fraction * total) return h.lo + static_cast<float>(b + 1) * h.width();
  }
  return h.hi;
}

double QuantizationMse(const Histogram& h, U8Params p) {
  double sum = 0;
  for (int b = 0; b < kBins; ++b) {
    const double n = h.counts[static_cast<std::size_t>(b)];
    if (n == 0) continue;
    const float x = h.center(b);
    const float q = std::clamp(
        std::nearbyint(x * (1.0f / p.scale) + static_cast<float>(p.zero_point)), 0.0f, 255.0f);
    const double e = x - p.scale * (q - static_cast<float>(p.zero_point));
    sum += n * e * e;
  }
  return sum;
}

// Shrinks [lo, hi] towards 0 in kSteps steps and keeps the range whose
// quantization error over the histogram is smallest: clipping a few
// outliers buys a finer step for everything else.
U8Params MseParams(const Histogram& h) {
  constexpr int kSteps = 200;
  U8Params best = quant::ChooseU8Params(h.lo, h.hi);
  double best_mse = QuantizationMse(h, best);
  for (int s = kSteps - 1; s >= 1; --s) {
    const float t = static_cast<float>(s) / kSteps;
    const U8Params p = quant::ChooseU8Params(h.lo * t, h.hi * t);
    const double mse = QuantizationMse(h, p);
    if (mse < best_mse) {
      best_mse = mse;
      best = p;
    }
  }
  return best;
}

U8Params ChooseParams(const Histogram& h, const QuantizeOptions& o) {
  if (o.calibration == "percentile") {
    const double tail = 1.0 - o.percentile / 100.0;
    return quant::ChooseU8Params(Quantile(h, tail), Quantile(h, 1.0 - tail));
  }
  if (o.calibration == "mse") return MseParams(h);
  return quant::ChooseU8Params(h.lo, h.hi);
}

// Runs the f32 model over the calibration rows and calls visit(block, x)
// with the input x of every block's Linear, batch by batch.
template <class Visit>
void ForEachBlockInput(Sequential& model, const std::vector<Block>& blocks, const Dataset& rows,
                       Visit&& visit) {
  constexpr std::int64_t kBatch = 256;
  for (std::int64_t start = 0; start < rows.rows(); start += kBatch) {
    std::vector<std::int64_t> index(
        static_cast<std::size_t>(std::min(kBatch, rows.rows() - start)));
    std::iota(index.begin(), index.end(), start);
    Dataset batch = Subset(rows, index);
    const Tensor* h = &batch.x;
    std::size_t next = 0;
    for (std::size_t i = 0; i < model.size(); ++i) {
      if (next < blocks.size() && blocks[next].layer == i) visit(next++, *h);
      h = &model.layer(i).Forward(*h, /*training=*/false);
    }
  }
}

// The scale and zero point of every block's input activation.
std::vector<U8Params> Calibrate(Sequential& model, const std::vector<Block>& blocks,
                                const Dataset& calibration, const QuantizeOptions& o) {
  ValidateQuantizeOptions(o);
  if (calibration.rows() == 0) {
    throw Error("quantize: the calibration set is empty; give it at least one row");
  }
  std::vector<std::int64_t> first(
      static_cast<std::size_t>(std::min(o.samples, calibration.rows())));
  std::iota(first.begin(), first.end(), 0);
  const Dataset rows = Subset(calibration, first);

  std::vector<Histogram> hist(blocks.size());
  for (Histogram& h : hist) {
    h.lo = std::numeric_limits<float>::infinity();
    h.hi = -h.lo;
  }
  ForEachBlockInput(model, blocks, rows, [&](std::size_t b, const Tensor& x) {
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      hist[b].lo = std::min(hist[b].lo, x.f32()[i]);
      hist[b].hi = std::max(hist[b].hi, x.f32()[i]);
    }
  });
  for (std::size_t b = 0; b < hist.size(); ++b) {
    if (!std::isfinite(hist[b].lo) || !std::isfinite(hist[b].hi)) {
      throw Error("quantize: the input of " + LayerName(model, blocks[b].layer) +
                  " is not finite on the calibration rows; the f32 model is broken");
    }
    hist[b].lo = std::min(hist[b].lo, 0.0f);
    hist[b].hi = std::max(hist[b].hi, 0.0f);
  }
  if (o.calibration != "minmax") {
    ForEachBlockInput(model, blocks, rows, [&](std::size_t b, const Tensor& x) { hist[b].Add(x); });
  }
  std::vector<U8Params> params;
  for (const Histogram& h : hist) params.push_back(ChooseParams(h, o));
  return params;
}

// ---------------------------------------------------------------------------
// Building models

Tensor& NamedParameter(Layer& layer, const std::string& name) {
  Parameter* found = nullptr;
  for (Parameter* p : layer.Parameters()) {
    if (p->name == name) found = p;
  }
  JOULE_ASSERT(found != nullptr);  // Linear and QatLinear have weight and bias
  return found->value;
}

// The int8 model from each block's f32 weights and its input's parameters.
Sequential BuildInt8(Sequential& model, const std::vector<Block>& blocks,
                     const std::vector<U8Params>& inputs) {
  Sequential int8;
  int8.Add(quant::MakeQuantizeInput(inputs[0]));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    Layer& linear = model.layer(blocks[b].layer);
    Tensor q, scales;
    quant::QuantizeRowsS8(NamedParameter(linear, "weight"), q, scales);
    const bool last = b + 1 == blocks.size();
    int8.Add(quant::MakeQuantizedLinear(q, scales, NamedParameter(linear, "bias"), inputs[b],
                                        blocks[b].relu, !last, last ? U8Params{} : inputs[b + 1]));
  }
  return int8;
}

}  // namespace

void ValidateQuantizeOptions(const QuantizeOptions& o) {
  if (o.calibration != "minmax" && o.calibration != "percentile" && o.calibration != "mse") {
    throw Error("quantize: calibration '" + o.calibration +
                "' is not known; expected minmax, percentile or mse");
  }
  if (!(o.percentile > 50 && o.percentile <= 100)) {
    throw Error("quantize: percentile " + std::to_string(o.percentile) +
                " must be in (50, 100], e.g. 99.99");
  }
  if (o.samples < 1) {
    throw Error("quantize: samples " + std::to_string(o.samples) +
                " must be at least 1 (1000 is plenty for MNIST)");
  }
}

Sequential QuantizeModel(Sequential& f32_model, const Dataset& calibration,
                         const QuantizeOptions& options) {
  std::vector<Block> blocks = ReadBlocks(f32_model);
  std::vector<U8Params> inputs = Calibrate(f32_model, blocks, calibration, options);
  return BuildInt8(f32_model, blocks, inputs);
}

Sequential PrepareQat(Sequential& f32_model, const Dataset& calibration,
                      const QuantizeOptions& options) {
  std::vector<Block> blocks = ReadBlocks(f32_model);
  std::vector<U8Params> inputs = Calibrate(f32_model, blocks, calibration, options);
  Sequential qat;
  qat.Add(quant::MakeFakeQuantize(inputs[0]));
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    Layer& linear = f32_model.layer(blocks[b].layer);
    qat.Add(quant::MakeQatLinear(NamedParameter(linear, "weight"), NamedParameter(linear, "bias")));
    if (blocks[b].relu) qat.Add(MakeReLU());
    if (b + 1 < blocks.size()) qat.Add(quant::MakeFakeQuantize(inputs[b + 1]));
  }
  return qat;
}

Sequential ConvertQat(Sequential& qat_model) {
  // Expected: FakeQuantize, then per block QatLinear [ReLU] and, between
  // blocks, FakeQuantize.
  std::vector<Block> blocks;
  std::vector<U8Params> inputs;
  bool quantized = false;  // the next QatLinear's input has its FakeQuantize
  for (std::size_t i = 0; i < qat_model.size(); ++i) {
    Layer& layer = qat_model.layer(i);
    const std::string type = layer.type();
    auto fail = [&](const std::string& why) {
      throw Error("ConvertQat: unexpected " + LayerName(qat_model, i) + ": " + why +
                  "; convert only models built by PrepareQat");
    };
    if (type == "FakeQuantize") {
      if (quantized) fail("two FakeQuantize layers in a row");
      inputs.push_back(quant::StoredU8Params(layer));
      quantized = true;
    } else if (type == "QatLinear") {
      if (!quantized) fail("a QatLinear needs a FakeQuantize before it");
      blocks.push_back({i, false});
      quantized = false;
    } else if (type == "ReLU" && !blocks.empty() && !blocks.back().relu && !quantized &&
               blocks.back().layer + 1 == i) {
      blocks.back().relu = true;
    } else {
      fail("expected FakeQuantize, QatLinear or a ReLU right after a QatLinear");
    }
  }
  if (blocks.empty() || quantized) {
    throw Error(
        "ConvertQat: the model must end with a QatLinear (or QatLinear, ReLU); "
        "convert only models built by PrepareQat");
  }
  return BuildInt8(qat_model, blocks, inputs);
}

}  // namespace joule
