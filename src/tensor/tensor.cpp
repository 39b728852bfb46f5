#include "joule/tensor.hpp"

#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>

namespace joule {

std::size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return 4;
    case DType::kBF16:
      return 2;
    case DType::kS8:
      return 1;
    case DType::kU8:
      return 1;
    case DType::kS32:
      return 4;
  }
  JOULE_ASSERT(false);
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return "f32";
    case DType::kBF16:
      return "bf16";
    case DType::kS8:
      return "s8";
    case DType::kU8:
      return "u8";
    case DType::kS32:
      return "s32";
  }
  JOULE_ASSERT(false);
}

DType ParseDType(const std::string& name) {
  for (DType d : {DType::kF32, DType::kBF16, DType::kS8, DType::kU8, DType::kS32}) {
    if (name == DTypeName(d)) return d;
  }
  throw Error("unknown dtype '" + name + "': expected one of f32, bf16, s8, u8, s32");
}

namespace {
// Branch-free so that the bulk loop vectorises.
inline std::uint16_t RoundToBF16Bits(std::uint32_t bits) {
  // Round to nearest, ties to even: add 0x7fff plus the lowest kept bit.
  std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
  // NaN stays a (quiet) NaN instead of rounding up into infinity.
  std::uint32_t quiet_nan = (bits >> 16) | 0x40u;
  bool is_nan = (bits & 0x7fffffffu) > 0x7f800000u;
  return static_cast<std::uint16_t>(is_nan ? quiet_nan : rounded);
}
}  // namespace

BF16 FloatToBF16(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  return BF16{RoundToBF16Bits(bits)};
}

float BF16ToFloat(BF16 value) {
  std::uint32_t bits = static_cast<std::uint32_t>(value.bits) << 16;
  float out;
  std::memcpy(&out, &bits, 4);
  return out;
}

void ConvertF32ToBF16(const float* src, BF16* dst, std::int64_t n) {
  const auto* in = reinterpret_cast<const std::uint32_t*>(src);
  auto* out = reinterpret_cast<std::uint16_t*>(dst);
  for (std::int64_t i = 0; i < n; ++i) out[i] = RoundToBF16Bits(in[i]);
}

void ConvertBF16ToF32(const BF16* src, float* dst, std::int64_t n) {
  const auto* in = reinterpret_cast<const std::uint16_t*>(src);
  auto* out = reinterpret_cast<std::uint32_t*>(dst);
  for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<std::uint32_t>(in[i]) << 16;
}

std::int64_t ShapeNumel(const Shape& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) {
    JOULE_ASSERT(d >= 0);
    n *= d;
  }
  return n;
}

std::string ShapeString(const Shape& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

namespace {
constexpr std::size_t kAlignment = 64;

std::shared_ptr<std::byte[]> AllocateAligned(std::size_t bytes) {
  if (bytes == 0) return nullptr;
  std::size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  auto* p = static_cast<std::byte*>(::operator new[](rounded, std::align_val_t(kAlignment)));
  std::memset(p, 0, rounded);
  return std::shared_ptr<std::byte[]>(
      p, [](std::byte* q) { ::operator delete[](q, std::align_val_t(kAlignment)); });
}
}  // namespace

Tensor::Tensor(Shape shape, DType dtype)
    : shape_(std::move(shape)), numel_(ShapeNumel(shape_)), dtype_(dtype) {
  capacity_bytes_ = nbytes();
  storage_ = AllocateAligned(capacity_bytes_);
}

Tensor Tensor::FromVector(Shape shape, const std::vector<float>& values) {
  Tensor t(std::move(shape));
  JOULE_ASSERT(static_cast<std::int64_t>(values.size()) == t.numel());
  if (!values.empty()) std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

std::int64_t Tensor::dim(int i) const {
  if (i < 0) i += rank();
  JOULE_ASSERT(i >= 0 && i < rank());
  return shape_[static_cast<std::size_t>(i)];
}

Tensor Tensor::Reshape(Shape shape) const {
  JOULE_ASSERT(ShapeNumel(shape) == numel_);
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::Clone() const {
  Tensor t(shape_, dtype_);
  if (nbytes()) std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::To(DType dtype) const {
  if (dtype == dtype_) return Clone();
  Tensor t(shape_, dtype);
  if (dtype_ == DType::kF32 && dtype == DType::kBF16) {
    ConvertF32ToBF16(f32(), t.data<BF16>(), numel_);
  } else if (dtype_ == DType::kBF16 && dtype == DType::kF32) {
    ConvertBF16ToF32(data<BF16>(), t.f32(), numel_);
  } else {
    JOULE_ASSERT(false && "Tensor::To supports f32 <-> bf16 only");
  }
  return t;
}

void Tensor::CopyFrom(const Tensor& other) {
  JOULE_ASSERT(other.shape_ == shape_ && other.dtype_ == dtype_);
  if (nbytes() && raw() != other.raw()) std::memcpy(raw(), other.raw(), nbytes());
}

void Tensor::Fill(float value) {
  float* p = f32();
  for (std::int64_t i = 0; i < numel_; ++i) p[i] = value;
}

void Tensor::Zero() {
  if (nbytes()) std::memset(raw(), 0, nbytes());
}

void Tensor::Resize(const Shape& shape, DType dtype) {
  if (shape == shape_ && dtype == dtype_ && storage_) return;
  std::int64_t numel = ShapeNumel(shape);
  std::size_t bytes = static_cast<std::size_t>(numel) * DTypeSize(dtype);
  // Reuse storage only when this tensor is its sole owner, so that no alias
  // sees its shape change underneath it.
  if (bytes > capacity_bytes_ || storage_.use_count() > 1) {
    storage_ = AllocateAligned(bytes);
    capacity_bytes_ = bytes;
  }
  shape_ = shape;
  numel_ = numel;
  dtype_ = dtype;
}

void SetNumThreads(int n) {
  if (n <= 0) {
    // OMP_NUM_THREADS, when set, is the user's (or a test runner's) choice.
    const char* env = std::getenv("OMP_NUM_THREADS");
    n = env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : omp_get_num_procs();
  }
  omp_set_num_threads(n);
}

int NumThreads() { return omp_get_max_threads(); }

}  // namespace joule
