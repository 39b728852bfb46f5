// The fused int8 matmul (oneDNN VNNI) and the f32 -> u8 quantizer against
// their reference loops: bitwise, since both follow the same f32 arithmetic
// (tensor.hpp spells it out), plus argument checks and the primitive cache.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "joule/tensor.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

using ::testing::HasSubstr;

Tensor RandomU8(const Shape& shape, Rng& rng) {
  Tensor t(shape, DType::kU8);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.data<std::uint8_t>()[i] = static_cast<std::uint8_t>(rng.Below(256));
  }
  return t;
}

Tensor RandomS8(const Shape& shape, Rng& rng) {
  Tensor t(shape, DType::kS8);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    // -127..127: symmetric weights never use -128.
    t.data<std::int8_t>()[i] = static_cast<std::int8_t>(static_cast<int>(rng.Below(255)) - 127);
  }
  return t;
}

Tensor RandomF32(const Shape& shape, Rng& rng, float scale) {
  Tensor t(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = scale * rng.Normal();
  return t;
}

bool BitwiseEqual(const Tensor& x, const Tensor& y) {
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

struct Int8Case {
  std::int64_t m, k, n;
  bool bias, relu;
  DType c_dtype;
  std::int32_t a_zp, c_zp;
};

// Scales are chosen so that u8 outputs spread over the whole 0..255 range
// (saturation at both ends is exercised) rather than collapse to one value.
Int8MatmulParams ParamsFor(const Int8Case& tc, Rng& rng) {
  Int8MatmulParams p;
  p.a_scale = 0.02f;
  p.a_zero_point = tc.a_zp;
  p.b_scales = Tensor({tc.n});
  for (std::int64_t j = 0; j < tc.n; ++j) p.b_scales.f32()[j] = 0.001f + 0.01f * rng.Uniform();
  p.relu = tc.relu;
  // The accumulator's spread is ~ 128 * 74 * sqrt(K); one u8 step per ~1/40 of it.
  p.c_scale = 0.02f * 0.006f * 128 * 74 * std::sqrt(static_cast<float>(tc.k)) / 40;
  p.c_zero_point = tc.c_zp;
  return p;
}

TEST(MatmulInt8, MatchesReferenceBitwise) {
  const Int8Case cases[] = {
      {1, 1, 1, false, false, DType::kF32, 0, 0},
      {7, 13, 5, true, false, DType::kF32, 0, 0},
      {7, 13, 5, true, true, DType::kF32, 3, 0},
      {33, 100, 17, true, true, DType::kU8, 0, 0},
      {33, 100, 17, true, false, DType::kU8, 128, 77},
      {64, 784, 256, true, true, DType::kU8, 0, 0},  // the MLP's layers
      {64, 256, 128, true, true, DType::kU8, 5, 0},
      {64, 128, 10, true, false, DType::kF32, 0, 0},
      {3, 1000, 31, false, true, DType::kU8, 255, 255},
  };
  Rng rng(42);
  for (const Int8Case& tc : cases) {
    SCOPED_TRACE(std::to_string(tc.m) + "x" + std::to_string(tc.k) + "x" + std::to_string(tc.n) +
                 " c " + DTypeName(tc.c_dtype) + " bias " + std::to_string(tc.bias) + " relu " +
                 std::to_string(tc.relu) + " zp " + std::to_string(tc.a_zp) + "/" +
                 std::to_string(tc.c_zp));
    Tensor a = RandomU8({tc.m, tc.k}, rng), b = RandomS8({tc.n, tc.k}, rng);
    Tensor bias = tc.bias ? RandomF32({tc.n}, rng, 2.0f) : Tensor();
    Int8MatmulParams p = ParamsFor(tc, rng);
    Tensor fast({tc.m, tc.n}, tc.c_dtype), ref({tc.m, tc.n}, tc.c_dtype);
    MatmulInt8(a, b, bias, fast, p);
    MatmulInt8Reference(a, b, bias, ref, p);
    EXPECT_TRUE(BitwiseEqual(fast, ref));
    if (tc.c_dtype == DType::kU8 && tc.m * tc.n >= 100) {
      // A useful test needs outputs that are neither all saturated nor all equal.
      std::int64_t distinct = 0;
      std::vector<bool> seen(256);
      for (std::int64_t i = 0; i < ref.numel(); ++i) {
        std::uint8_t v = ref.data<std::uint8_t>()[i];
        if (!seen[v]) ++distinct;
        seen[v] = true;
      }
      EXPECT_GT(distinct, 20);
    }
  }
}

// With unit scales, no bias and an f32 output, c is the s32 accumulator
// itself (exact in f32 below 2^24): checks the oneDNN accumulation, zero
// point compensation included, against plain integer arithmetic.
TEST(MatmulInt8, UnitScalesGiveExactIntegerAccumulators) {
  Rng rng(7);
  const std::int64_t m = 19, k = 300, n = 23;
  Tensor a = RandomU8({m, k}, rng), b = RandomS8({n, k}, rng);
  Int8MatmulParams p;
  p.a_zero_point = 100;
  p.b_scales = Tensor({n});
  p.b_scales.Fill(1.0f);
  Tensor c({m, n});
  MatmulInt8(a, b, Tensor(), c, p);
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      std::int64_t acc = 0;
      for (std::int64_t t = 0; t < k; ++t) {
        acc += (a.data<std::uint8_t>()[i * k + t] - 100) * b.data<std::int8_t>()[j * k + t];
      }
      ASSERT_EQ(c.f32()[i * n + j], static_cast<float>(acc)) << i << "," << j;
    }
  }
}

// oneDNN 2.6 adds the bias before the output scale for int8: the kernel must
// hand it over in accumulator units. One element checks it by hand:
// acc = 2 * 1 * 4 = 8, s = 0.5, bias 10 -> (8 + 10 / 0.5) * 0.5 = 14.
TEST(MatmulInt8, BiasIsInRealUnits) {
  Tensor a({1, 4}, DType::kU8), b({1, 4}, DType::kS8);
  for (int i = 0; i < 4; ++i) {
    a.data<std::uint8_t>()[i] = 3;
    b.data<std::int8_t>()[i] = 1;
  }
  Int8MatmulParams p;
  p.a_scale = 0.25f;
  p.a_zero_point = 1;
  p.b_scales = Tensor::FromVector({1}, {2.0f});
  Tensor bias = Tensor::FromVector({1}, {10.0f}), c({1, 1});
  MatmulInt8(a, b, bias, c, p);
  EXPECT_EQ(c.f32()[0], 14.0f);
}

TEST(MatmulInt8, PrimitiveCachedPerScales) {
  Rng rng(3);
  Tensor a = RandomU8({9, 40}, rng), b = RandomS8({11, 40}, rng), c({9, 11}, DType::kU8);
  Int8MatmulParams p = ParamsFor({9, 40, 11, false, true, DType::kU8, 0, 0}, rng);
  MatmulInt8(a, b, Tensor(), c, p);
  const std::size_t after_first = DnnlPrimitiveCount();
  for (int i = 0; i < 3; ++i) MatmulInt8(a, b, Tensor(), c, p);
  EXPECT_EQ(DnnlPrimitiveCount(), after_first);
  // Other scales are other constants baked into another primitive.
  p.c_scale *= 2;
  MatmulInt8(a, b, Tensor(), c, p);
  EXPECT_GT(DnnlPrimitiveCount(), after_first);
  Tensor ref({9, 11}, DType::kU8);
  MatmulInt8Reference(a, b, Tensor(), ref, p);
  EXPECT_TRUE(BitwiseEqual(c, ref));
}

TEST(MatmulInt8, RejectsBadArguments) {
  Rng rng(5);
  Tensor a = RandomU8({4, 8}, rng), b = RandomS8({3, 8}, rng), c({4, 3});
  Int8MatmulParams p;
  p.b_scales = Tensor({3});
  p.b_scales.Fill(0.1f);
  auto throws = [&](const Tensor& aa, const Tensor& bb, const Tensor& bias, Tensor& cc,
                    const Int8MatmulParams& pp, const std::string& needle) {
    for (auto* fn : {&MatmulInt8, &MatmulInt8Reference}) {
      try {
        fn(aa, bb, bias, cc, pp);
        ADD_FAILURE() << "no error for " << needle;
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr(needle));
      }
    }
  };
  Tensor a_f32({4, 8});
  throws(a_f32, b, Tensor(), c, p, "wrong dtypes");
  Tensor b_short = RandomS8({3, 7}, rng);
  throws(a, b_short, Tensor(), c, p, "shapes do not agree");
  Tensor c_s32({4, 3}, DType::kS32);
  throws(a, b, Tensor(), c_s32, p, "c must be f32 or u8");
  throws(a, b, Tensor({4}), c, p, "bias must be f32 [3]");
  Int8MatmulParams bad = p;
  bad.b_scales = Tensor({2});
  throws(a, b, Tensor(), c, bad, "b_scales must be f32 [3]");
  bad = p;
  bad.b_scales = Tensor({3});  // zeros
  throws(a, b, Tensor(), c, bad, "b_scales[0]");
  bad = p;
  bad.a_zero_point = 256;
  throws(a, b, Tensor(), c, bad, "a_zero_point in 0..255");
  Tensor c_u8({4, 3}, DType::kU8);
  bad = p;
  bad.c_scale = std::numeric_limits<float>::infinity();
  throws(a, b, Tensor(), c_u8, bad, "c_scale must be positive");
}

TEST(QuantizeU8, MatchesReferenceBitwiseIncludingEdgeValues) {
  Rng rng(11);
  Tensor x = RandomF32({1000}, rng, 3.0f);
  // Ties, saturation, NaN and infinities: the two loops must agree on all.
  const float specials[] = {0.0f,
                            -0.0f,
                            0.05f,
                            0.15f,
                            0.25f,
                            1e30f,
                            -1e30f,
                            std::numeric_limits<float>::quiet_NaN(),
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity()};
  for (std::size_t i = 0; i < std::size(specials); ++i) x.f32()[i] = specials[i];
  for (std::int32_t zp : {0, 17, 128, 255}) {
    Tensor fast, ref;
    QuantizeU8(x, 0.1f, zp, fast);
    QuantizeU8Reference(x, 0.1f, zp, ref);
    EXPECT_TRUE(BitwiseEqual(fast, ref)) << "zp " << zp;
  }
}

// Inside the representable range [scale * (0 - zp), scale * (255 - zp)] the
// round trip error is at most half a step. The f32 division, the addition
// of the zero point and the dequantization each round once, so the bound
// gets a slack of a few ulp of the range's magnitude.
TEST(QuantizeU8, RoundTripErrorWithinHalfAStep) {
  Rng rng(13);
  const float scale = 0.037f;
  for (std::int32_t zp : {0, 60, 255}) {
    const float lo = scale * static_cast<float>(0 - zp), hi = scale * static_cast<float>(255 - zp);
    Tensor x({5000});
    for (std::int64_t i = 0; i < x.numel(); ++i) x.f32()[i] = lo + (hi - lo) * rng.Uniform();
    Tensor q;
    QuantizeU8(x, scale, zp, q);
    const float kSlack = 4 * 255 * scale * std::numeric_limits<float>::epsilon();
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const float dq = scale * static_cast<float>(q.data<std::uint8_t>()[i] - zp);
      ASSERT_LE(std::fabs(x.f32()[i] - dq), scale / 2 + kSlack) << "x " << x.f32()[i];
    }
  }
}

TEST(QuantizeU8, RejectsBadScaleAndZeroPoint) {
  Tensor x({4}), q;
  EXPECT_THROW(QuantizeU8(x, 0.0f, 0, q), Error);
  EXPECT_THROW(QuantizeU8(x, std::nanf(""), 0, q), Error);
  EXPECT_THROW(QuantizeU8(x, 1.0f, -1, q), Error);
  EXPECT_THROW(QuantizeU8Reference(x, 1.0f, 256, q), Error);
  Tensor x_u8({4}, DType::kU8);
  EXPECT_THROW(QuantizeU8(x_u8, 1.0f, 0, q), Error);
}

}  // namespace
}  // namespace joule
