// int8 PTQ and QAT on small random MLPs: the quantization arithmetic, the
// layers (forward against the kernels' reference, straight-through
// gradients), calibration, the model file round trip, and the errors.
#include "joule/compress/quantize.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "joule/nn_quantized.hpp"
#include "nn/gradcheck.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string ScratchDir() { return test::TestScratchDir("quantize_test", false); }

// in-16-8-3 with ReLUs, a Dropout and a Flatten (both dropped by PTQ).
Sequential SmallMlp(std::int64_t in, std::uint64_t seed) {
  Rng rng(seed);
  Sequential m;
  m.Add(MakeFlatten());
  m.Add(MakeLinear(in, 16, rng));
  m.Add(MakeReLU());
  m.Add(MakeDropout(0.1f, 3));
  m.Add(MakeLinear(16, 8, rng));
  m.Add(MakeReLU());
  m.Add(MakeLinear(8, 3, rng));
  for (Parameter* p : m.Parameters()) {
    if (p->name == "bias") {
      for (std::int64_t i = 0; i < p->value.numel(); ++i) p->value.f32()[i] = 0.1f * rng.Normal();
    }
  }
  return m;
}

// Rows of U(0, 1) features shaped [rows, 1, 2, in/2], like images.
Dataset RandomData(std::int64_t rows, std::int64_t in, std::uint64_t seed) {
  Rng rng(seed);
  Dataset d;
  d.x = Tensor({rows, 1, 2, in / 2});
  d.y = Tensor({rows});
  for (std::int64_t i = 0; i < d.x.numel(); ++i) d.x.f32()[i] = rng.Uniform();
  d.num_classes = 3;
  return d;
}

bool BitwiseEqual(const Tensor& x, const Tensor& y) {
  return x.shape() == y.shape() && x.dtype() == y.dtype() &&
         std::memcmp(x.raw(), y.raw(), x.nbytes()) == 0;
}

Tensor* Named(Sequential& m, const std::string& name) {
  for (auto& [n, t] : m.NamedTensors()) {
    if (n == name) return t;
  }
  return nullptr;
}

TEST(QuantMath, ChooseU8ParamsContainsZeroAndTheRange) {
  quant::U8Params p = quant::ChooseU8Params(-1.0f, 3.0f);
  EXPECT_FLOAT_EQ(p.scale, 4.0f / 255);
  EXPECT_EQ(p.zero_point, 64);            // round(1 / (4/255)) = round(63.75)
  p = quant::ChooseU8Params(0.5f, 2.0f);  // widened to [0, 2]
  EXPECT_EQ(p.zero_point, 0);
  EXPECT_FLOAT_EQ(p.scale, 2.0f / 255);
  p = quant::ChooseU8Params(-2.0f, -1.0f);  // widened to [-2, 0]
  EXPECT_EQ(p.zero_point, 255);
  p = quant::ChooseU8Params(0.0f, 0.0f);
  EXPECT_GT(p.scale, 0.0f);
}

TEST(QuantMath, RowsS8UseEachRowsMaximumAndStayWithinHalfAStep) {
  Rng rng(1);
  Tensor w({5, 33});
  for (std::int64_t i = 0; i < w.numel(); ++i) w.f32()[i] = (1 + i / 33) * rng.Normal();
  for (std::int64_t j = 0; j < 33; ++j) w.f32()[4 * 33 + j] = 0;  // an all-zero row
  Tensor q, scales;
  quant::QuantizeRowsS8(w, q, scales);
  for (std::int64_t r = 0; r < 5; ++r) {
    float max_abs = 0;
    int max_q = 0;
    for (std::int64_t j = 0; j < 33; ++j) {
      const float v = w.f32()[r * 33 + j];
      const int qv = q.data<std::int8_t>()[r * 33 + j];
      max_abs = std::max(max_abs, std::fabs(v));
      max_q = std::max(max_q, std::abs(qv));
      EXPECT_LE(std::fabs(v - scales.f32()[r] * qv), scales.f32()[r] * 0.5f * (1 + 1e-5f));
    }
    if (r < 4) {
      EXPECT_FLOAT_EQ(scales.f32()[r], max_abs / 127);
      EXPECT_EQ(max_q, 127);
    } else {
      EXPECT_EQ(scales.f32()[r], 1.0f);
      EXPECT_EQ(max_q, 0);
    }
  }
}

// The int8 model tracks the f32 one: every logit within kMaxLogitErr of the
// f32 value, relative to the largest |logit|. Each layer adds about half a
// u8 step of rounding per activation (1/510 of its range) and half an s8 step
// per weight; through three layers that is ~1-2%, while a wrong scale, zero
// point or channel order gives errors of order 100%.
constexpr double kMaxLogitErr = 0.05;

TEST(QuantizeModel, Int8LogitsTrackTheF32Model) {
  Sequential f32 = SmallMlp(20, 1);
  Dataset data = RandomData(300, 20, 2);
  for (const char* method : {"minmax", "percentile", "mse"}) {
    SCOPED_TRACE(method);
    Sequential int8 = QuantizeModel(f32, data, {.calibration = method, .samples = 300});
    ASSERT_EQ(int8.size(), 4u);  // QuantizeInput + 3 QuantizedLinear
    EXPECT_EQ(int8.layer(0).type(), "QuantizeInput");
    EXPECT_EQ(int8.layer(3).config()["output"], "f32");
    const Tensor want = f32.Forward(data.x, false).Clone();
    const Tensor& got = int8.Forward(data.x, false);
    ASSERT_EQ(got.shape(), want.shape());
    double max_logit = 0, max_err = 0;
    for (std::int64_t i = 0; i < want.numel(); ++i) {
      max_logit = std::max(max_logit, std::fabs(static_cast<double>(want.f32()[i])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(got.f32()[i] - want.f32()[i])));
    }
    EXPECT_LT(max_err / max_logit, kMaxLogitErr);
    EXPECT_GT(max_err, 0.0);  // it did quantize
  }
}

TEST(QuantizeModel, SaveLoadRoundTripGivesIdenticalOutputs) {
  Sequential f32 = SmallMlp(20, 4);
  Dataset data = RandomData(64, 20, 5);
  Sequential int8 = QuantizeModel(f32, data, {});
  const Tensor want = int8.Forward(data.x, false).Clone();
  const std::string dir = ScratchDir();
  SaveModel(int8, dir, {{"compression", "int8-ptq"}});
  nlohmann::json meta;
  Sequential loaded = LoadModel(dir, &meta);
  EXPECT_EQ(meta["compression"], "int8-ptq");
  EXPECT_TRUE(BitwiseEqual(loaded.Forward(data.x, false), want));

  // What a Python reader of the safetensors file sees.
  std::map<std::string, Tensor> file;
  for (auto& [name, t] : ReadSafetensors(dir + "/model.safetensors")) file[name] = t;
  EXPECT_EQ(file.at("1.weight").dtype(), DType::kS8);
  EXPECT_EQ(file.at("1.weight").shape(), (Shape{16, 20}));
  EXPECT_EQ(file.at("1.weight_scale").shape(), (Shape{16}));
  EXPECT_EQ(file.at("1.input_zero_point").dtype(), DType::kS32);
  EXPECT_EQ(file.at("0.scale").dtype(), DType::kF32);
  EXPECT_EQ(file.count("3.output_scale"), 0u);  // the f32 output layer has none
  EXPECT_EQ(file.at("2.output_scale").f32()[0], file.at("3.input_scale").f32()[0]);
}

TEST(QuantizeModel, RejectsWhatItCannotQuantize) {
  Rng rng(1);
  Dataset data = RandomData(8, 20, 1);
  Sequential conv;
  conv.Add(MakeConv2d(1, 2, 3, 1, 1, rng));
  try {
    QuantizeModel(conv, data, {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("layer 0 (Conv2d)"));
  }
  Sequential relu_first;
  relu_first.Add(MakeReLU());
  relu_first.Add(MakeLinear(20, 3, rng));
  EXPECT_THROW(QuantizeModel(relu_first, data, {}), Error);
  Sequential f32 = SmallMlp(20, 1);
  EXPECT_THROW(QuantizeModel(f32, data, {.calibration = "entropy"}), Error);
  EXPECT_THROW(QuantizeModel(f32, data, {.calibration = "percentile", .percentile = 40}), Error);
  EXPECT_THROW(QuantizeModel(f32, data, {.samples = 0}), Error);
  EXPECT_THROW(QuantizeModel(f32, Dataset(), {}), Error);
}

// One outlier among U(0, 1) inputs: minmax stretches the input range to it,
// percentile clips it, keeping a finer step for everything else. (mse keeps
// it: one value 49 away costs more squared error than the coarse step does.)
TEST(QuantizeModel, PercentileClipsAnOutlier) {
  Sequential f32 = SmallMlp(20, 1);
  Dataset data = RandomData(500, 20, 2);
  data.x.f32()[7] = 50.0f;
  auto input_scale = [&](const QuantizeOptions& o) {
    Sequential int8 = QuantizeModel(f32, data, o);
    return Named(int8, "0.scale")->f32()[0];
  };
  const float minmax = input_scale({.calibration = "minmax", .samples = 500});
  EXPECT_NEAR(minmax, 50.0f / 255, 1e-4);
  EXPECT_LT(input_scale({.calibration = "percentile", .percentile = 99.9, .samples = 500}),
            minmax / 20);
}

// Exponentially distributed inputs (a long tail, as activations have): mse
// clips the tail and so beats minmax on the squared round-trip error of the
// very values it was calibrated on.
TEST(QuantizeModel, MseCalibrationHasLowerErrorThanMinmaxOnALongTail) {
  Sequential f32 = SmallMlp(20, 1);
  Dataset data = RandomData(500, 20, 2);
  for (std::int64_t i = 0; i < data.x.numel(); ++i) {
    data.x.f32()[i] = -std::log(1.0f - data.x.f32()[i]);
  }
  auto squared_error = [&](const QuantizeOptions& o, float* scale) {
    Sequential int8 = QuantizeModel(f32, data, o);
    *scale = Named(int8, "0.scale")->f32()[0];
    const std::int32_t zp = Named(int8, "0.zero_point")->data<std::int32_t>()[0];
    Tensor q;
    QuantizeU8(data.x, *scale, zp, q);
    double sum = 0;
    for (std::int64_t i = 0; i < q.numel(); ++i) {
      const double e = data.x.f32()[i] - *scale * (q.data<std::uint8_t>()[i] - zp);
      sum += e * e;
    }
    return sum;
  };
  float minmax_scale = 0, mse_scale = 0;
  const double minmax = squared_error({.calibration = "minmax", .samples = 500}, &minmax_scale);
  const double mse = squared_error({.calibration = "mse", .samples = 500}, &mse_scale);
  EXPECT_LT(mse_scale, minmax_scale);
  EXPECT_LT(mse, minmax);
}

TEST(QuantizedLayers, BackwardThrowsAndConfigIsChecked) {
  Sequential f32 = SmallMlp(20, 1);
  Sequential int8 = QuantizeModel(f32, RandomData(16, 20, 1), {});
  Tensor dy({16, 3});
  EXPECT_THROW(int8.Backward(dy), Error);
  EXPECT_THROW(MakeLayer("QuantizedLinear", {{"in", 4}, {"out", 2}, {"relu", true}}), Error);
  EXPECT_THROW(MakeLayer("QuantizedLinear", {{"in", 4}, {"out", 2}, {"relu", 1}, {"output", "u8"}}),
               Error);
  EXPECT_THROW(
      MakeLayer("QuantizedLinear", {{"in", 4}, {"out", 2}, {"relu", true}, {"output", "s8"}}),
      Error);
  EXPECT_THROW(MakeLayer("FakeQuantize", {{"bits", 8}}), Error);
  // An f32 tensor fed straight to a QuantizedLinear is refused with a hint.
  Tensor x({2, 20});
  try {
    int8.layer(1).Forward(x, false);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("QuantizeInput"));
  }
}

TEST(FakeQuantize, ForwardIsQuantizeDequantizeAndBackwardIsStraightThrough) {
  const quant::U8Params p{0.1f, 20};  // representable: [-2.0, 23.5]
  auto layer = quant::MakeFakeQuantize(p);
  Tensor x = Tensor::FromVector({1, 6}, {-3.0f, -2.0f, 0.04f, 0.06f, 23.5f, 30.0f});
  const Tensor& y = layer->Forward(x, true);
  Tensor q;
  QuantizeU8(x, p.scale, p.zero_point, q);
  for (std::int64_t i = 0; i < 6; ++i) {
    EXPECT_EQ(y.f32()[i], p.scale * static_cast<float>(q.data<std::uint8_t>()[i] - 20));
  }
  EXPECT_FLOAT_EQ(y.f32()[0], -2.0f);  // clipped
  EXPECT_FLOAT_EQ(y.f32()[3], 0.1f);
  Tensor dy = Tensor::FromVector({1, 6}, {1, 2, 3, 4, 5, 6});
  const Tensor& dx = layer->Backward(dy);
  const float want[] = {0, 2, 3, 4, 5, 0};  // zero where x was clipped
  for (int i = 0; i < 6; ++i) EXPECT_EQ(dx.f32()[i], want[i]) << i;
}

TEST(QatLinear, GradientsOfInputAndBiasMatchFiniteDifferencesWeightsStraightThrough) {
  Rng rng(3);
  Tensor w({4, 6}), b({4}), x({5, 6});
  for (Tensor* t : {&w, &b, &x}) {
    for (std::int64_t i = 0; i < t->numel(); ++i) t->f32()[i] = rng.Normal();
  }
  auto make = [&] { return quant::MakeQatLinear(w, b); };
  auto errors = gradcheck::CheckGradients(make, x, 9);
  // x and bias enter linearly: exact up to f32 rounding. The weight's true
  // derivative is a staircase; its gradient is the straight-through one.
  EXPECT_LT(errors[0].rel_err, 1e-3) << gradcheck::Describe(errors[0]);
  EXPECT_LT(errors[2].rel_err, 1e-3) << gradcheck::Describe(errors[2]);

  auto layer = make();
  layer->Forward(x, true);
  Tensor dy({5, 4});
  for (std::int64_t i = 0; i < dy.numel(); ++i) dy.f32()[i] = rng.Normal();
  layer->Backward(dy);
  const Tensor& dw = layer->Parameters()[0]->grad;
  for (std::int64_t o = 0; o < 4; ++o) {
    for (std::int64_t i = 0; i < 6; ++i) {
      double sum = 0;
      for (std::int64_t r = 0; r < 5; ++r) sum += dy.f32()[r * 4 + o] * x.f32()[r * 6 + i];
      EXPECT_NEAR(dw.f32()[o * 6 + i], sum, 1e-4);
    }
  }
}

// Without training in between, QAT's conversion must land on exactly the PTQ
// model; and the QAT forward simulates that int8 model closely.
TEST(Qat, UntrainedConversionEqualsPtqAndFakeQuantTracksInt8) {
  Sequential f32 = SmallMlp(20, 6);
  Dataset data = RandomData(200, 20, 7);
  const QuantizeOptions o{.calibration = "mse", .samples = 200};
  Sequential qat = PrepareQat(f32, data, o);
  EXPECT_EQ(qat.layer(0).type(), "FakeQuantize");
  Sequential converted = ConvertQat(qat);
  Sequential ptq = QuantizeModel(f32, data, o);
  const Tensor want = ptq.Forward(data.x, false).Clone();
  EXPECT_TRUE(BitwiseEqual(converted.Forward(data.x, false), want));

  // The fake-quantized model computes the same real values as the int8 one
  // up to f32 rounding (its sums run in f32, int8's in exact integers), which
  // can move a hidden value across a rounding boundary to the next u8 step.
  const Tensor& sim = qat.Forward(data.x, false);
  double max_logit = 0, max_err = 0;
  for (std::int64_t i = 0; i < want.numel(); ++i) {
    max_logit = std::max(max_logit, std::fabs(static_cast<double>(want.f32()[i])));
    max_err = std::max(max_err, std::fabs(static_cast<double>(sim.f32()[i] - want.f32()[i])));
  }
  EXPECT_LT(max_err / max_logit, 0.02);
}

TEST(Qat, ConvertRejectsOtherStructures) {
  Sequential f32 = SmallMlp(20, 1);
  EXPECT_THROW(ConvertQat(f32), Error);
  Sequential no_fq;
  no_fq.Add(quant::MakeQatLinear(Tensor({3, 4}), Tensor({3})));
  try {
    ConvertQat(no_fq);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("layer 0 (QatLinear)"));
  }
}

}  // namespace
}  // namespace joule
