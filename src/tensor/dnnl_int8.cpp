// int8 matmul with fused requantization on oneDNN, its reference loop, and
// f32 -> u8 quantization. See tensor.hpp (MatmulInt8) for the arithmetic both
// implementations follow.
//
// Why the scales are baked into each primitive: with runtime output scales
// (DNNL_RUNTIME_F32_VAL) oneDNN 2.6 dispatches int8 matmul to gemm:jit, while
// with scales fixed at creation it takes brg:avx512_core_vnni, the kernel that
// reaches the VNNI peak. So the cache key carries a digest of the scales and
// zero points, and every quantized layer gets a primitive of its own.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "joule/tensor.hpp"
#include "tensor/dnnl_context.hpp"

namespace joule {
namespace {

using dnnl::memory;

// PrimitiveKey::flags. kInt8Fused keeps these keys apart from Matmul's, whose
// flags use the low bits.
constexpr std::uint32_t kInt8Fused = 1u << 8, kRelu = 1u << 9, kBias = 1u << 10;

struct Int8Dims {
  std::int64_t m, k, n;
};

std::string Describe(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c) {
  std::string s = std::string("int8 matmul a ") + ShapeString(a.shape()) + " " +
                  DTypeName(a.dtype()) + ", b " + ShapeString(b.shape()) + " " +
                  DTypeName(b.dtype());
  if (!bias.empty()) s += ", bias " + ShapeString(bias.shape()) + " " + DTypeName(bias.dtype());
  return s + ", c " + ShapeString(c.shape()) + " " + DTypeName(c.dtype());
}

bool PositiveFinite(float v) { return std::isfinite(v) && v > 0; }

Int8Dims CheckInt8(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c,
                   const Int8MatmulParams& p) {
  auto fail = [&](const std::string& what) {
    throw Error(what + ": " + Describe(a, b, bias, c) +
                " (want a u8 [M,K], b s8 [N,K], bias empty or f32 [N], c f32 or u8 [M,N])");
  };
  if (a.rank() != 2 || b.rank() != 2 || c.rank() != 2) fail("int8 matmul: operands must be 2-D");
  if (a.dtype() != DType::kU8 || b.dtype() != DType::kS8) fail("int8 matmul: wrong dtypes");
  if (c.dtype() != DType::kF32 && c.dtype() != DType::kU8) fail("int8 matmul: c must be f32 or u8");
  Int8Dims d{a.dim(0), a.dim(1), b.dim(0)};
  if (b.dim(1) != d.k || c.dim(0) != d.m || c.dim(1) != d.n) {
    fail("int8 matmul: shapes do not agree");
  }
  if (!bias.empty() && (bias.dtype() != DType::kF32 || bias.numel() != d.n)) {
    fail("int8 matmul: bias must be f32 [" + std::to_string(d.n) + "]");
  }
  if (p.b_scales.dtype() != DType::kF32 || p.b_scales.numel() != d.n) {
    fail("int8 matmul: b_scales must be f32 [" + std::to_string(d.n) + "], got " +
         ShapeString(p.b_scales.shape()));
  }
  for (std::int64_t j = 0; j < d.n; ++j) {
    if (!PositiveFinite(p.b_scales.f32()[j])) {
      fail("int8 matmul: b_scales[" + std::to_string(j) +
           "] = " + std::to_string(p.b_scales.f32()[j]) + " must be positive and finite");
    }
  }
  if (!PositiveFinite(p.a_scale) || p.a_zero_point < 0 || p.a_zero_point > 255) {
    fail("int8 matmul: a_scale must be positive and a_zero_point in 0..255, got " +
         std::to_string(p.a_scale) + ", " + std::to_string(p.a_zero_point));
  }
  if (c.dtype() == DType::kU8 &&
      (!PositiveFinite(p.c_scale) || p.c_zero_point < 0 || p.c_zero_point > 255)) {
    fail("int8 matmul: c_scale must be positive and c_zero_point in 0..255, got " +
         std::to_string(p.c_scale) + ", " + std::to_string(p.c_zero_point));
  }
  return d;
}

// The per-column factors of the arithmetic in tensor.hpp, computed the same
// way for the kernel and the reference: out_scale[n] = s / c_scale and
// bias_acc[n] = bias[n] / s with s = a_scale * b_scales[n].
void RequantFactors(const Tensor& bias, const Tensor& c, const Int8MatmulParams& p,
                    std::vector<float>& out_scale, std::vector<float>& bias_acc) {
  const std::int64_t n = p.b_scales.numel();
  const float c_scale = c.dtype() == DType::kU8 ? p.c_scale : 1.0f;
  out_scale.resize(n);
  bias_acc.resize(bias.empty() ? 0 : n);
  for (std::int64_t j = 0; j < n; ++j) {
    const float s = p.a_scale * p.b_scales.f32()[j];
    out_scale[j] = s / c_scale;
    if (!bias.empty()) bias_acc[j] = bias.f32()[j] / s;
  }
}

// FNV-1a over the bytes that decide a primitive's constants. Two differently
// seeded 64-bit digests go into the key: a collision would silently run a
// layer with another layer's scales, so 128 bits keep that out of reach.
std::array<std::uint64_t, 2> Digest(const std::vector<float>& out_scale, std::int32_t a_zp,
                                    std::int32_t c_zp) {
  std::array<std::uint64_t, 2> h{0xcbf29ce484222325ull, 0x84222325cbf29ce4ull};
  auto mix = [&](const void* data, std::size_t bytes) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < bytes; ++i) {
      h[0] = (h[0] ^ p[i]) * 0x100000001b3ull;
      h[1] = (h[1] ^ p[i]) * 0x00000100000001b3ull + 0x9e3779b97f4a7c15ull;
    }
  };
  mix(out_scale.data(), out_scale.size() * sizeof(float));
  mix(&a_zp, sizeof(a_zp));
  mix(&c_zp, sizeof(c_zp));
  return h;
}

detail::DnnlOp BuildInt8(detail::DnnlContext& ctx, const Int8Dims& d, const Tensor& c,
                         const Int8MatmulParams& p, const std::vector<float>& out_scale,
                         bool has_bias) {
  memory::desc a_md({d.m, d.k}, memory::data_type::u8, memory::dims{d.k, 1});
  // b [N,K] row-major read as the [K,N] operand: its transpose by strides.
  memory::desc b_md({d.k, d.n}, memory::data_type::s8, memory::dims{1, d.k});
  memory::desc bias_md = has_bias
                             ? memory::desc({1, d.n}, memory::data_type::f32, memory::dims{d.n, 1})
                             : memory::desc();
  memory::desc c_md({d.m, d.n}, detail::ToDnnl(c.dtype()), memory::dims{d.n, 1});
  // A fresh attr: copies of ctx.attr() share its handle.
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_output_scales(/*mask: per column of c*/ 1 << 1, out_scale);
  if (p.a_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {p.a_zero_point});
  if (c.dtype() == DType::kU8 && p.c_zero_point != 0) {
    attr.set_zero_points(DNNL_ARG_DST, 0, {p.c_zero_point});
  }
  if (p.relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_md, bias_md, c_md), attr,
                                  ctx.engine());
  detail::DnnlOp op;
  op.BindInput(ctx, DNNL_ARG_SRC, a_md, pd.src_desc());
  op.BindInput(ctx, DNNL_ARG_WEIGHTS, b_md, pd.weights_desc());
  if (has_bias) op.BindInput(ctx, DNNL_ARG_BIAS, bias_md, pd.bias_desc());
  op.BindOutput(ctx, DNNL_ARG_DST, c_md, pd.dst_desc());
  op.SetPrimitive(ctx, pd);
  return op;
}

}  // namespace

void MatmulInt8(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                const Int8MatmulParams& p) {
  Int8Dims d = CheckInt8(a, b, bias, c, p);
  if (d.m == 0 || d.n == 0 || d.k == 0) {
    MatmulInt8Reference(a, b, bias, c, p);
    return;
  }
  // Grown once per thread, then reused: no allocation in steady state.
  thread_local std::vector<float> out_scale, bias_acc;
  RequantFactors(bias, c, p, out_scale, bias_acc);
  const bool has_bias = !bias.empty();
  const std::int32_t c_zp = c.dtype() == DType::kU8 ? p.c_zero_point : 0;
  std::array<std::uint64_t, 2> digest = Digest(out_scale, p.a_zero_point, c_zp);

  detail::PrimitiveKey key;
  key.op = detail::PrimitiveKey::Op::kMatmul;
  key.dims = {d.m, d.k, d.n, static_cast<std::int64_t>(digest[0]),
              static_cast<std::int64_t>(digest[1])};
  key.dtypes = {a.dtype(), b.dtype(), c.dtype()};
  key.flags = kInt8Fused | (p.relu ? kRelu : 0u) | (has_bias ? kBias : 0u);

  // oneDNN takes non-const handles; inputs are only read.
  std::array<void*, 4> handles{const_cast<void*>(a.raw()), const_cast<void*>(b.raw())};
  std::size_t count = 2;
  if (has_bias) handles[count++] = bias_acc.data();
  handles[count++] = c.raw();
  detail::DnnlContext::Instance().Run(
      key, std::span<void* const>(handles.data(), count),
      [&](detail::DnnlContext& ctx) { return BuildInt8(ctx, d, c, p, out_scale, has_bias); },
      [&] { return Describe(a, b, bias, c); });
}

void MatmulInt8Reference(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                         const Int8MatmulParams& p) {
  Int8Dims d = CheckInt8(a, b, bias, c, p);
  std::vector<float> out_scale, bias_acc;
  RequantFactors(bias, c, p, out_scale, bias_acc);
  const std::uint8_t* av = a.data<std::uint8_t>();
  const std::int8_t* bv = b.data<std::int8_t>();
  for (std::int64_t i = 0; i < d.m; ++i) {
    for (std::int64_t j = 0; j < d.n; ++j) {
      std::int32_t acc = 0;
      for (std::int64_t k = 0; k < d.k; ++k) {
        acc += (static_cast<std::int32_t>(av[i * d.k + k]) - p.a_zero_point) *
               static_cast<std::int32_t>(bv[j * d.k + k]);
      }
      float r = static_cast<float>(acc);
      if (!bias_acc.empty()) r += bias_acc[j];
      r *= out_scale[j];
      if (p.relu) r = std::max(r, 0.0f);
      if (c.dtype() == DType::kF32) {
        c.f32()[i * d.n + j] = r;
      } else {
        r += static_cast<float>(p.c_zero_point);
        r = std::nearbyint(std::clamp(r, 0.0f, 255.0f));
        c.data<std::uint8_t>()[i * d.n + j] = static_cast<std::uint8_t>(r);
      }
    }
  }
}

namespace {

void CheckQuantize(const Tensor& x, float scale, std::int32_t zero_point) {
  if (x.dtype() != DType::kF32) {
    throw Error(std::string("QuantizeU8: x must be f32, got ") + DTypeName(x.dtype()) + " " +
                ShapeString(x.shape()));
  }
  if (!PositiveFinite(scale) || zero_point < 0 || zero_point > 255) {
    throw Error("QuantizeU8: scale must be positive and finite and zero_point in 0..255, got " +
                std::to_string(scale) + ", " + std::to_string(zero_point) +
                "; calibrate the activation range first");
  }
}

}  // namespace

// The fast loop and the reference perform the same f32 operations (multiply
// by the reciprocal, add, clamp, round); the fast one is written so the
// compiler vectorizes it (no branches, a NaN maps to the clamp's low end in
// both). A multiply, not a division: this runs on every input of an int8
// model, and a vector division costs several times a multiply.
void QuantizeU8(const Tensor& x, float scale, std::int32_t zero_point, Tensor& q) {
  CheckQuantize(x, scale, zero_point);
  q.Resize(x.shape(), DType::kU8);
  const float* xv = x.f32();
  std::uint8_t* qv = q.data<std::uint8_t>();
  const float zp = static_cast<float>(zero_point);
  const float inv_scale = 1.0f / scale;
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) {
    float r = xv[i] * inv_scale + zp;
    r = r > 0.0f ? r : 0.0f;
    r = r < 255.0f ? r : 255.0f;
    qv[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(std::nearbyint(r)));
  }
}

void QuantizeU8Reference(const Tensor& x, float scale, std::int32_t zero_point, Tensor& q) {
  CheckQuantize(x, scale, zero_point);
  q.Resize(x.shape(), DType::kU8);
  for (std::int64_t i = 0; i < x.numel(); ++i) {
    float r = x.f32()[i] * (1.0f / scale) + static_cast<float>(zero_point);
    if (!(r > 0.0f)) r = 0.0f;  // NaN too
    if (r > 255.0f) r = 255.0f;
    q.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(std::nearbyint(r));
  }
}

}  // namespace joule
