// Shape and dtype validation shared by the oneDNN kernels and their
// references, so both reject exactly the same calls with the same message.
#pragma once

#include <cstdint>

#include "joule/tensor.hpp"

namespace joule::detail {

struct MatmulDims {
  std::int64_t m, k, n;
};
// Throws Error unless a, b, bias, c form a valid Matmul call (see tensor.hpp).
MatmulDims CheckMatmul(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c,
                       const MatmulOptions& options);

struct ConvDims {
  std::int64_t n, c, h, w;  // input
  std::int64_t o, kh, kw;   // weights
  std::int64_t oh, ow;      // output
  int stride, pad;
};
// Throws Error unless x and w are a valid convolution; y_shape is the shape
// of y (forward) or dy (backward), checked against the expected output.
ConvDims CheckConv(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p);

// Value of element i of an f32 or bf16 tensor, as float.
inline float LoadFloat(const Tensor& t, std::int64_t i) {
  return t.dtype() == DType::kBF16 ? BF16ToFloat(t.data<BF16>()[i]) : t.f32()[i];
}

}  // namespace joule::detail
