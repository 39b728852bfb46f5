// joule/compress/quantize.hpp: int8 post-training quantization (PTQ) and
// quantization-aware training (QAT) of Linear/ReLU models such as the "mlp".
//
// The int8 model: a QuantizeInput layer (f32 -> u8, one scale and zero point
// for the tensor), then one QuantizedLinear per Linear: u8 activations,
// symmetric s8 weights with one scale per output channel, f32 bias, the
// following ReLU fused, and the output either requantized to u8 with the
// next layer's input scale and zero point (hidden layers) or f32 (the last
// layer, the logits). It runs on oneDNN's VNNI int8 matmul (tensor.hpp,
// MatmulInt8) and is inference only.
//
// Saved with SaveModel like any model (model.json "format": "joule-model"):
// each QuantizedLinear's "weight" is I8 [out, in], "weight_scale" F32 [out],
// "bias" F32 [out], "input_scale"/"output_scale" F32 [1] and
// "input_zero_point"/"output_zero_point" I32 [1]; QuantizeInput's "scale"
// and "zero_point" likewise. LoadModel gives back a model whose outputs are
// bitwise those of the saved one.
//
// Activation ranges come from calibration: the f32 model runs on the first
// `samples` rows of a calibration set, and a 2048-bin histogram of each
// quantized activation (the input of every Linear) picks its range:
//   minmax      the observed [min, max]
//   percentile  [p_low, p_high] at the given percentile (outliers clipped)
//   mse         the range, shrunk from [min, max], that minimises the mean
//               squared quantization error over the histogram
// Every range is widened to contain 0, so 0 is represented exactly.
//
// Nothing here is thread safe; each function works on one model.
#pragma once

#include <cstdint>
#include <string>

#include "joule/compress/inference.hpp"

namespace joule {

struct QuantizeOptions {
  std::string calibration = "minmax";  // "minmax" | "percentile" | "mse"
  double percentile = 99.99;           // percentile: in (50, 100]
  std::int64_t samples = 1000;         // calibration rows (fewer if the set is smaller); >= 1
};

// Throws Error naming the field and the value unless the options are valid.
void ValidateQuantizeOptions(const QuantizeOptions& options);

// The int8 model of f32_model (which is left unchanged), calibrated on the
// first options.samples rows of `calibration` (its x in the model's input
// layout). f32_model may hold Linear, ReLU, Dropout (dropped: identity at
// inference) and Flatten (dropped: QuantizedLinear flattens) layers; every
// ReLU must follow a Linear. Throws Error naming the first layer it cannot
// quantize (index and type), for bad options or an empty calibration set.
Sequential QuantizeModel(Sequential& f32_model, const Dataset& calibration,
                         const QuantizeOptions& options);

// A model for quantization-aware training, from f32_model (unchanged) under
// the same rules as QuantizeModel: FakeQuantize on the input and after every
// hidden Linear(+ReLU), with the calibrated scales and zero points, and
// QatLinear layers (copies of the f32 weights, used rounded to their s8 grid
// in forward, straight-through gradients in backward). Train it with Fit like
// any model, then ConvertQat. Throws Error as QuantizeModel.
Sequential PrepareQat(Sequential& f32_model, const Dataset& calibration,
                      const QuantizeOptions& options);

// The int8 model of a model from PrepareQat (after training): the same
// activation scales and zero points, and the QatLinear weights quantized
// exactly as their forward used them. Throws Error naming the layer when
// qat_model does not have the structure PrepareQat builds.
Sequential ConvertQat(Sequential& qat_model);

}  // namespace joule
