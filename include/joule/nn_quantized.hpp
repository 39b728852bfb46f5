// joule/nn_quantized.hpp: int8 layers (inference) and their
// quantization-aware-training stand-ins, and the quantization arithmetic they
// share with joule/compress/quantize. NN layer (src/nn/quantized_layers.cpp);
// public because the compress layer builds and converts these layers.
//
//   QuantizeInput    f32 -> u8 with a per-tensor scale and zero point
//   QuantizedLinear  u8 in, s8 weights (symmetric, per output channel), f32
//                    bias, optional fused ReLU, u8 out (the next layer's
//                    scale and zero point) or f32 out (the last layer)
//   FakeQuantize     QAT: x -> dequantize(quantize_u8(x)); straight-through
//                    gradient inside the representable range, zero outside
//   QatLinear        QAT: Linear whose forward uses its weights rounded to
//                    the s8 grid they will be stored on; straight-through
//                    gradient to the f32 weights
// Scales and zero points are buffers (saved in model.safetensors, so a
// Python reader sees them); config() holds only shapes and flags.
#pragma once

#include <cstdint>
#include <memory>

#include "joule/nn.hpp"

namespace joule::quant {

// Real value = scale * (q - zero_point).
struct U8Params {
  float scale = 1;
  std::int32_t zero_point = 0;
};

// Affine u8 parameters covering [lo, hi] widened to include 0 (so that 0,
// ReLU's floor and padding, is exactly representable). A degenerate range
// (hi - lo below 1e-12) gets a tiny positive scale instead of a zero one.
U8Params ChooseU8Params(float lo, float hi);

// Symmetric per-row s8 quantization of w f32 [rows, cols]: scale[r] =
// max_j |w[r,j]| / 127 (1 for an all-zero row), q = clamp(round(w / scale),
// -127, 127). q and scales are resized. The same arithmetic as QatLinear's
// forward, so converting a QAT model reproduces the weights it trained with.
void QuantizeRowsS8(const Tensor& w, Tensor& q, Tensor& scales);

std::unique_ptr<Layer> MakeQuantizeInput(U8Params params);
// weight s8 [out, in], weight_scale f32 [out], bias f32 [out]; input: the
// activation scale and zero point; output_u8: quantize the output with
// `output` (else f32 out, `output` ignored).
std::unique_ptr<Layer> MakeQuantizedLinear(const Tensor& weight, const Tensor& weight_scale,
                                           const Tensor& bias, U8Params input, bool relu,
                                           bool output_u8, U8Params output);
std::unique_ptr<Layer> MakeFakeQuantize(U8Params params);
// Copies weight f32 [out, in] and bias f32 [out].
std::unique_ptr<Layer> MakeQatLinear(const Tensor& weight, const Tensor& bias);

// The U8Params stored in a QuantizeInput or FakeQuantize layer (its "scale"
// and "zero_point" buffers). JOULE_ASSERTs the layer is one of those.
U8Params StoredU8Params(Layer& layer);

}  // namespace joule::quant
