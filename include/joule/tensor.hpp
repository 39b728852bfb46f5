// joule/tensor.hpp: dense tensors and the kernels that run on them.
//
// A Tensor is a shape, a dtype and 64-byte-aligned, contiguous, row-major
// storage shared by copies (copying a Tensor is cheap and aliases; Clone()
// copies the data). Not thread safe: one thread mutates a tensor at a time.
//
// Every kernel has two implementations: the fast one on oneDNN (Matmul,
// Conv2d*) and a plain loop (…Reference) that is obviously correct. Tests
// compare the two with named tolerances (see tests/tensor/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "joule/util.hpp"

namespace joule {

enum class DType : std::uint8_t { kF32, kBF16, kS8, kU8, kS32 };

// Bytes per element, and a short name ("f32", "bf16", "s8", "u8", "s32").
std::size_t DTypeSize(DType dtype);
const char* DTypeName(DType dtype);
// Parses a name from DTypeName. Throws Error naming the bad value.
DType ParseDType(const std::string& name);

// bfloat16 as stored: the upper 16 bits of an IEEE f32.
struct BF16 {
  std::uint16_t bits;
};
static_assert(sizeof(BF16) == 2);

// Round-to-nearest-even f32 -> bf16 (NaN stays NaN), and the exact widening.
BF16 FloatToBF16(float value);
float BF16ToFloat(BF16 value);

// Bulk conversions, vectorised; same rounding as FloatToBF16.
void ConvertF32ToBF16(const float* src, BF16* dst, std::int64_t n);
void ConvertBF16ToF32(const BF16* src, float* dst, std::int64_t n);

using Shape = std::vector<std::int64_t>;
std::int64_t ShapeNumel(const Shape& shape);
std::string ShapeString(const Shape& shape);  // "[128, 784]"

class Tensor {
 public:
  Tensor() = default;  // empty: no storage, numel() == 0
  // Zero-filled storage of ShapeNumel(shape) elements.
  explicit Tensor(Shape shape, DType dtype = DType::kF32);

  static Tensor FromVector(Shape shape, const std::vector<float>& values);  // f32

  const Shape& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  std::int64_t dim(int i) const;  // negative i counts from the end
  std::int64_t numel() const { return numel_; }
  DType dtype() const { return dtype_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * DTypeSize(dtype_); }
  bool empty() const { return numel_ == 0; }

  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }
  // Typed access; JOULE_ASSERTs that T matches dtype().
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  float* f32() { return data<float>(); }
  const float* f32() const { return data<float>(); }

  // Same storage, new shape with the same numel (asserts).
  Tensor Reshape(Shape shape) const;
  // New storage holding a copy.
  Tensor Clone() const;
  // Converts between f32 and bf16 (other pairs: JOULE_ASSERT). Same dtype: Clone.
  Tensor To(DType dtype) const;
  // Writes `other`'s values into this tensor's storage (same shape and dtype).
  void CopyFrom(const Tensor& other);
  void Fill(float value);  // f32 only
  void Zero();             // any dtype

  // Reallocates only when the shape/dtype changes; keeps storage otherwise.
  // Contents are unspecified after a change. For steady-state buffers.
  void Resize(const Shape& shape, DType dtype = DType::kF32);

 private:
  std::shared_ptr<std::byte[]> storage_;
  std::size_t capacity_bytes_ = 0;
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::kF32;
};

// ---------------------------------------------------------------------------
// Threads. oneDNN here uses OpenMP; this sets the OpenMP team size used by
// oneDNN and joule's own loops. n <= 0 means $OMP_NUM_THREADS when set, else
// all cores.
void SetNumThreads(int n);
int NumThreads();

// ---------------------------------------------------------------------------
// Matrix multiply: c[M,N] = op(a)[M,K] * op(b)[K,N] (+ bias[N]).
// op(x) is x, or x transposed when trans_* is set (a stored [K,M], b [N,K]).
// a, b: both f32, or both bf16 (then c is f32, accumulation in f32), or
//   a u8 and b s8 (then c is s32, exact integer accumulation).
// bias: empty, or f32 [N] (f32/bf16 only).
// c must already have shape [M,N] and the output dtype; it is overwritten.
// Throws Error on shape or dtype mismatch, naming the shapes.
struct MatmulOptions {
  bool trans_a = false;
  bool trans_b = false;
};
void Matmul(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
            const MatmulOptions& options = {});
void MatmulReference(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                     const MatmulOptions& options = {});

// ---------------------------------------------------------------------------
// 2-D convolution, NCHW activations, OIHW weights, square stride and padding.
// x [N,C,H,W], w [O,C,KH,KW], bias empty or f32 [O], y [N,O,OH,OW] with
// OH = (H + 2p - KH) / s + 1. x and w both f32, or both bf16 (y f32).
// Backward: dx from dy and w; dw (and db when not null) from x and dy.
// Gradients dx, dw, db are f32 and overwritten (not accumulated).
struct Conv2dParams {
  int stride = 1;
  int padding = 0;
};
Shape Conv2dOutputShape(const Shape& x, const Shape& w, const Conv2dParams& p);

void Conv2dForward(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                   const Conv2dParams& p);
void Conv2dBackwardData(const Tensor& dy, const Tensor& w, Tensor& dx, const Conv2dParams& p);
void Conv2dBackwardWeights(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                           const Conv2dParams& p);

void Conv2dForwardReference(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                            const Conv2dParams& p);
void Conv2dBackwardDataReference(const Tensor& dy, const Tensor& w, Tensor& dx,
                                 const Conv2dParams& p);
void Conv2dBackwardWeightsReference(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                    const Conv2dParams& p);

// ---------------------------------------------------------------------------
// dtype of a C++ element type, for Tensor::data<T>().
template <class T>
constexpr DType DTypeOf();
template <>
constexpr DType DTypeOf<float>() {
  return DType::kF32;
}
template <>
constexpr DType DTypeOf<BF16>() {
  return DType::kBF16;
}
template <>
constexpr DType DTypeOf<std::int8_t>() {
  return DType::kS8;
}
template <>
constexpr DType DTypeOf<std::uint8_t>() {
  return DType::kU8;
}
template <>
constexpr DType DTypeOf<std::int32_t>() {
  return DType::kS32;
}

template <class T>
T* Tensor::data() {
  JOULE_ASSERT(DTypeOf<T>() == dtype_);
  return reinterpret_cast<T*>(storage_.get());
}
template <class T>
const T* Tensor::data() const {
  JOULE_ASSERT(DTypeOf<T>() == dtype_);
  return reinterpret_cast<const T*>(storage_.get());
}

// Number of distinct oneDNN primitives created so far (for tests that check
// primitives are cached, not re-created per call).
std::size_t DnnlPrimitiveCount();

// ---------------------------------------------------------------------------
// int8 inference: u8 activations times s8 weights, with the requantization
// fused into the matmul (the quantized Linear of joule/compress/quantize.hpp).
// A quantized value q stands for the real value scale * (q - zero_point).
//
// a: u8 [M,K], one scale and zero point (0..255) for the whole tensor.
// b: s8 [N,K] (a Linear weight: one row per output channel), symmetric
//   (zero point 0), one scale per row: b_scales f32 [N], every scale > 0.
// bias: empty, or f32 [N] in real units.
// c: f32 [M,N] (real values; c_scale and c_zero_point are ignored) or u8
//   [M,N] quantized with c_scale > 0 and c_zero_point in 0..255.
// Arithmetic, which the oneDNN kernel and the reference share bit for bit:
//   acc  = sum_k (a[m,k] - a_zero_point) * b[n,k]          exact, s32
//   s    = a_scale * b_scales[n]                           f32
//   r    = (float(acc) + bias[n] / s) * (s / c_scale)       f32, in this order
//   r    = max(r, 0) when relu
//   u8 c: saturate to [0, 255] of round-half-even(r + c_zero_point)
// (oneDNN 2.6 adds the bias before the output scale for int8; the bias is
// therefore handed to it in accumulator units, bias[n] / s.)
// Throws Error naming the shapes on a shape, dtype or parameter mismatch.
// Each distinct (shapes, scales, zero points, relu) gets its own cached
// primitive: oneDNN 2.6 runs its VNNI kernel only when the output scales are
// known when the primitive is created. Steady-state calls allocate nothing.
struct Int8MatmulParams {
  float a_scale = 1;
  std::int32_t a_zero_point = 0;
  Tensor b_scales;  // f32 [N]
  bool relu = false;
  float c_scale = 1;
  std::int32_t c_zero_point = 0;
};
void MatmulInt8(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                const Int8MatmulParams& params);
void MatmulInt8Reference(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                         const Int8MatmulParams& params);

// Affine u8 quantization of f32 values: q = saturate_u8(round-half-even(
// x * (1 / scale) + zero_point)), every step in f32 and the same in the fast
// loop and in QuantizeU8Reference (bitwise equal results; a NaN gives 0).
// Within the range, |x - scale * (q - zero_point)| <= scale / 2 up to f32
// rounding. x f32; q is resized to x's shape as u8. Throws Error for a scale
// that is not positive and finite, or a zero point outside 0..255.
void QuantizeU8(const Tensor& x, float scale, std::int32_t zero_point, Tensor& q);
void QuantizeU8Reference(const Tensor& x, float scale, std::int32_t zero_point, Tensor& q);

}  // namespace joule
