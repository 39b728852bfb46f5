// Plain loops, written for obviousness rather than speed: the yardstick the
// oneDNN kernels are tested against.
#include <cstdint>

#include "joule/tensor.hpp"
#include "tensor/kernel_checks.hpp"

namespace joule {
namespace detail {

MatmulDims CheckMatmul(const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c,
                       const MatmulOptions& o) {
  auto describe = [&] {
    return "a " + ShapeString(a.shape()) + " " + DTypeName(a.dtype()) + (o.trans_a ? "^T" : "") +
           ", b " + ShapeString(b.shape()) + " " + DTypeName(b.dtype()) + (o.trans_b ? "^T" : "") +
           ", c " + ShapeString(c.shape()) + " " + DTypeName(c.dtype());
  };
  if (a.rank() != 2 || b.rank() != 2 || c.rank() != 2) {
    throw Error("matmul: operands must be 2-D: " + describe());
  }
  MatmulDims d;
  d.m = o.trans_a ? a.dim(1) : a.dim(0);
  d.k = o.trans_a ? a.dim(0) : a.dim(1);
  std::int64_t kb = o.trans_b ? b.dim(1) : b.dim(0);
  d.n = o.trans_b ? b.dim(0) : b.dim(1);
  if (kb != d.k || c.dim(0) != d.m || c.dim(1) != d.n) {
    throw Error("matmul: shapes do not agree: " + describe());
  }
  DType expected_c;
  if (a.dtype() == DType::kF32 && b.dtype() == DType::kF32) {
    expected_c = DType::kF32;
  } else if (a.dtype() == DType::kBF16 && b.dtype() == DType::kBF16) {
    expected_c = DType::kF32;
  } else if (a.dtype() == DType::kU8 && b.dtype() == DType::kS8) {
    expected_c = DType::kS32;
  } else {
    throw Error("matmul: unsupported dtypes (want f32*f32, bf16*bf16 or u8*s8): " + describe());
  }
  if (c.dtype() != expected_c) {
    throw Error(std::string("matmul: c must be ") + DTypeName(expected_c) + ": " + describe());
  }
  if (!bias.empty()) {
    if (expected_c != DType::kF32 || bias.dtype() != DType::kF32 || bias.numel() != d.n) {
      throw Error("matmul: bias must be f32 [" + std::to_string(d.n) + "] (f32/bf16 only), got " +
                  ShapeString(bias.shape()) + " " + DTypeName(bias.dtype()));
    }
  }
  return d;
}

ConvDims CheckConv(const Shape& x, const Shape& w, const Shape& y, const Conv2dParams& p) {
  if (x.size() != 4 || w.size() != 4) {
    throw Error("conv2d: x must be [N,C,H,W] and w [O,C,KH,KW], got x " + ShapeString(x) + ", w " +
                ShapeString(w));
  }
  if (p.stride < 1 || p.padding < 0) {
    throw Error("conv2d: stride must be >= 1 and padding >= 0, got stride " +
                std::to_string(p.stride) + ", padding " + std::to_string(p.padding));
  }
  ConvDims d{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, p.stride, p.padding};
  if (w[1] != d.c) {
    throw Error("conv2d: input has " + std::to_string(d.c) + " channels but weights expect " +
                std::to_string(w[1]) + ": x " + ShapeString(x) + ", w " + ShapeString(w));
  }
  std::int64_t hp = d.h + 2 * d.pad - d.kh, wp = d.w + 2 * d.pad - d.kw;
  if (hp < 0 || wp < 0) {
    throw Error("conv2d: kernel " + ShapeString(w) + " larger than padded input " + ShapeString(x));
  }
  d.oh = hp / d.stride + 1;
  d.ow = wp / d.stride + 1;
  Shape expected{d.n, d.o, d.oh, d.ow};
  if (y != expected) {
    throw Error("conv2d: output must be " + ShapeString(expected) + ", got " + ShapeString(y));
  }
  return d;
}

}  // namespace detail

Shape Conv2dOutputShape(const Shape& x, const Shape& w, const Conv2dParams& p) {
  if (x.size() != 4 || w.size() != 4) {
    throw Error("conv2d: x must be [N,C,H,W] and w [O,C,KH,KW], got x " + ShapeString(x) + ", w " +
                ShapeString(w));
  }
  std::int64_t oh = (x[2] + 2 * p.padding - w[2]) / p.stride + 1;
  std::int64_t ow = (x[3] + 2 * p.padding - w[3]) / p.stride + 1;
  return {x[0], w[0], oh, ow};
}

void MatmulReference(const Tensor& a, const Tensor& b, const Tensor& bias, Tensor& c,
                     const MatmulOptions& o) {
  auto d = detail::CheckMatmul(a, b, bias, c, o);
  auto ai = [&](std::int64_t i, std::int64_t k) { return o.trans_a ? k * d.m + i : i * d.k + k; };
  auto bi = [&](std::int64_t k, std::int64_t j) { return o.trans_b ? j * d.k + k : k * d.n + j; };
  if (c.dtype() == DType::kS32) {
    const std::uint8_t* pa = a.data<std::uint8_t>();
    const std::int8_t* pb = b.data<std::int8_t>();
    std::int32_t* pc = c.data<std::int32_t>();
    for (std::int64_t i = 0; i < d.m; ++i)
      for (std::int64_t j = 0; j < d.n; ++j) {
        std::int32_t acc = 0;
        for (std::int64_t k = 0; k < d.k; ++k) acc += pa[ai(i, k)] * pb[bi(k, j)];
        pc[i * d.n + j] = acc;
      }
    return;
  }
  float* pc = c.f32();
  for (std::int64_t i = 0; i < d.m; ++i)
    for (std::int64_t j = 0; j < d.n; ++j) {
      double acc = bias.empty() ? 0.0 : bias.f32()[j];
      for (std::int64_t k = 0; k < d.k; ++k) {
        acc += static_cast<double>(detail::LoadFloat(a, ai(i, k))) * detail::LoadFloat(b, bi(k, j));
      }
      pc[i * d.n + j] = static_cast<float>(acc);
    }
}

void Conv2dForwardReference(const Tensor& x, const Tensor& w, const Tensor& bias, Tensor& y,
                            const Conv2dParams& p) {
  auto d = detail::CheckConv(x.shape(), w.shape(), y.shape(), p);
  float* py = y.f32();
  for (std::int64_t n = 0; n < d.n; ++n)
    for (std::int64_t o = 0; o < d.o; ++o)
      for (std::int64_t oy = 0; oy < d.oh; ++oy)
        for (std::int64_t ox = 0; ox < d.ow; ++ox) {
          double acc = bias.empty() ? 0.0 : bias.f32()[o];
          for (std::int64_t c = 0; c < d.c; ++c)
            for (std::int64_t ky = 0; ky < d.kh; ++ky)
              for (std::int64_t kx = 0; kx < d.kw; ++kx) {
                std::int64_t iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                acc += static_cast<double>(
                           detail::LoadFloat(x, ((n * d.c + c) * d.h + iy) * d.w + ix)) *
                       detail::LoadFloat(w, ((o * d.c + c) * d.kh + ky) * d.kw + kx);
              }
          py[((n * d.o + o) * d.oh + oy) * d.ow + ox] = static_cast<float>(acc);
        }
}

void Conv2dBackwardDataReference(const Tensor& dy, const Tensor& w, Tensor& dx,
                                 const Conv2dParams& p) {
  auto d = detail::CheckConv(dx.shape(), w.shape(), dy.shape(), p);
  dx.Zero();
  float* pdx = dx.f32();
  for (std::int64_t n = 0; n < d.n; ++n)
    for (std::int64_t o = 0; o < d.o; ++o)
      for (std::int64_t oy = 0; oy < d.oh; ++oy)
        for (std::int64_t ox = 0; ox < d.ow; ++ox) {
          float g = detail::LoadFloat(dy, ((n * d.o + o) * d.oh + oy) * d.ow + ox);
          for (std::int64_t c = 0; c < d.c; ++c)
            for (std::int64_t ky = 0; ky < d.kh; ++ky)
              for (std::int64_t kx = 0; kx < d.kw; ++kx) {
                std::int64_t iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                pdx[((n * d.c + c) * d.h + iy) * d.w + ix] +=
                    g * detail::LoadFloat(w, ((o * d.c + c) * d.kh + ky) * d.kw + kx);
              }
        }
}

void Conv2dBackwardWeightsReference(const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db,
                                    const Conv2dParams& p) {
  auto d = detail::CheckConv(x.shape(), dw.shape(), dy.shape(), p);
  dw.Zero();
  if (db) db->Zero();
  float* pdw = dw.f32();
  for (std::int64_t n = 0; n < d.n; ++n)
    for (std::int64_t o = 0; o < d.o; ++o)
      for (std::int64_t oy = 0; oy < d.oh; ++oy)
        for (std::int64_t ox = 0; ox < d.ow; ++ox) {
          float g = detail::LoadFloat(dy, ((n * d.o + o) * d.oh + oy) * d.ow + ox);
          if (db) db->f32()[o] += g;
          for (std::int64_t c = 0; c < d.c; ++c)
            for (std::int64_t ky = 0; ky < d.kh; ++ky)
              for (std::int64_t kx = 0; kx < d.kw; ++kx) {
                std::int64_t iy = oy * d.stride - d.pad + ky, ix = ox * d.stride - d.pad + kx;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                pdw[((o * d.c + c) * d.kh + ky) * d.kw + kx] +=
                    g * detail::LoadFloat(x, ((n * d.c + c) * d.h + iy) * d.w + ix);
              }
        }
}

}  // namespace joule
