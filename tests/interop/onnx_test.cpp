// The ONNX importer and exporter: a hand-built chain imports with the right
// numbers; each kind of malformed file ends in one Error naming the node or
// tensor; joule models survive export -> import with the same outputs.
#include "joule/onnx.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "interop/onnx_builders.hpp"
#include "joule/nn_quantized.hpp"
#include "joule/util.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

using test::AddNode;
using test::Bytes;
using test::FloatTensor;
using test::TinyChain;

// The message of the Error ImportOnnx throws for `bytes` (fails the test when
// it does not throw, or throws a message of more than one line).
std::string ImportError(const std::string& bytes) {
  try {
    ImportOnnx(bytes, "bad.onnx");
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.rfind("bad.onnx: ", 0), 0u) << what;
    return what;
  }
  ADD_FAILURE() << "ImportOnnx accepted the file";
  return "";
}

TEST(OnnxImport, TinyChainComputesWhatTheGraphSays) {
  OnnxImport r = ImportOnnx(Bytes(TinyChain()), "tiny.onnx");
  EXPECT_EQ(r.input_shape, (Shape{1, 2, 2}));
  EXPECT_EQ(r.opset, 13);
  EXPECT_FALSE(r.int8);
  Tensor x = Tensor::FromVector({2, 1, 2, 2}, {1, 20, 3, 1, -2, 0, 0, 5});
  const Tensor& y = r.model.Forward(x, false);
  ASSERT_EQ(y.shape(), (Shape{2, 2}));
  auto expect_row = [&](int row, float a, float b, float c, float d) {
    const float h0 = std::max(a + 0.5f, 0.0f), h1 = std::max(b - 10, 0.0f),
                h2 = std::max(c - d, 0.0f);
    const float l0 = h0 + h2, l1 = h1 + h2 + 1;
    const float m = std::max(l0, l1);
    const float e0 = std::exp(l0 - m), e1 = std::exp(l1 - m);
    EXPECT_NEAR(y.f32()[row * 2], e0 / (e0 + e1), 1e-6);
    EXPECT_NEAR(y.f32()[row * 2 + 1], e1 / (e0 + e1), 1e-6);
  };
  expect_row(0, 1, 20, 3, 1);
  expect_row(1, -2, 0, 0, 5);
}

TEST(OnnxImport, TruncatedFileIsOneLine) {
  const std::string bytes = Bytes(TinyChain());
  for (std::size_t cut : {bytes.size() / 3, bytes.size() / 2, bytes.size() - 3}) {
    SCOPED_TRACE(cut);
    ImportError(bytes.substr(0, cut));
  }
  EXPECT_NE(ImportError("not a protobuf at all \xff\xff\xff").find("not a valid ONNX model"),
            std::string::npos);
}

TEST(OnnxImport, WrongOpsetNamesTheSupportedRange) {
  const std::string e = ImportError(Bytes(TinyChain(11)));
  EXPECT_NE(e.find("opset 11"), std::string::npos) << e;
  EXPECT_NE(e.find("13 to 17"), std::string::npos) << e;
  EXPECT_NE(ImportError(Bytes(TinyChain(18))).find("opset 18"), std::string::npos);
}

TEST(OnnxImport, DanglingInputNamesTheNode) {
  onnx::ModelProto m = TinyChain();
  m.mutable_graph()->mutable_node(3)->set_input(0, "nowhere");  // relu
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'relu' (Relu)"), std::string::npos) << e;
  EXPECT_NE(e.find("dangling"), std::string::npos) << e;
}

TEST(OnnxImport, HugeDeclaredTensorFailsBeforeAllocating) {
  onnx::ModelProto m = TinyChain();
  // 2^19 x 2^19 floats = 1 TiB declared, 48 bytes present.
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(1 << 19);
  w->add_dims(1 << 19);
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("initializer 'fc1.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("holds 12 elements"), std::string::npos) << e;
}

TEST(OnnxImport, OverflowingShapeIsRejected) {
  onnx::ModelProto m = TinyChain();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  for (int k = 0; k < 4; ++k) w->add_dims(std::int64_t{1} << 20);
  EXPECT_NE(ImportError(Bytes(m)).find("overflows"), std::string::npos);
}

TEST(OnnxImport, UnsupportedOpNamesNodeOpAndWhatIsSupported) {
  onnx::ModelProto m = TinyChain();
  m.mutable_graph()->mutable_node(3)->set_op_type("LeakyRelu");
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'relu' (LeakyRelu)"), std::string::npos) << e;
  EXPECT_NE(e.find("joule imports Gemm, MatMul"), std::string::npos) << e;
}

TEST(OnnxImport, BranchIsRejected) {
  onnx::ModelProto m = TinyChain();
  // A second reader of the Gemm's output: a residual-style fork.
  AddNode(m.mutable_graph(), "fork", "Relu", {"h"}, {"h2"});
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'fork' (Relu)"), std::string::npos) << e;
  EXPECT_NE(e.find("branch"), std::string::npos) << e;
}

TEST(OnnxImport, AddOfTwoActivationsIsABranch) {
  onnx::ModelProto m = TinyChain();
  m.mutable_graph()->mutable_node(5)->set_input(1, "r");  // mm + r
  EXPECT_NE(ImportError(Bytes(m)).find("node 'fc2_bias' (Add)"), std::string::npos);
}

TEST(OnnxImport, ReshapeThatIsNotAFlattenIsRejected) {
  onnx::ModelProto m = TinyChain();
  *m.mutable_graph()->mutable_node(0)->mutable_attribute(0)->mutable_t() =
      test::Int64Tensor("", {2, 2});
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'reshape' (Reshape)"), std::string::npos) << e;
}

TEST(OnnxImport, MismatchedWeightsNameTheNode) {
  onnx::ModelProto m = TinyChain();
  *m.mutable_graph()->mutable_initializer(0) =
      FloatTensor("fc1.weight", {3, 5}, std::vector<float>(15));
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'fc1' (Gemm)"), std::string::npos) << e;
}

TEST(OnnxImport, FileErrorsWriteNothing) {
  const std::string dir = test::TestScratchDir("interop", true);
  const std::string bad = dir + "/bad.onnx";
  WriteFileAtomic(bad, Bytes(TinyChain(9)));
  EXPECT_THROW(ImportOnnxFile(bad, dir + "/out", "mnist"), Error);
  EXPECT_FALSE(std::filesystem::exists(dir + "/out"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/out.tmp-import"));
  const std::string good = dir + "/good.onnx";
  WriteFileAtomic(good, Bytes(TinyChain()));
  ImportOnnxFile(good, dir + "/out", "mnist");
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/model.json"));
  // An existing model is not overwritten.
  EXPECT_THROW(ImportOnnxFile(good, dir + "/out", "mnist"), Error);
}

Sequential SmallCnn() {
  Rng rng(3);
  Sequential m;
  m.Add(MakeConv2d(1, 4, 3, 1, 1, rng));
  m.Add(MakeBatchNorm(4, true));
  m.Add(MakeReLU());
  m.Add(MakeMaxPool2d(2, 2));
  m.Add(MakeConv2d(4, 6, 3, 1, 0, rng));
  m.Add(MakeTanh());
  m.Add(MakeAvgPool2d(2, 2));
  m.Add(MakeFlatten());
  m.Add(MakeDropout(0.5f, 1));
  m.Add(MakeLinear(6, 5, rng));
  m.Add(MakeSigmoid());
  m.Add(MakeLinear(5, 3, rng));
  m.Add(MakeSoftmax());
  return m;
}

Tensor RandomInput(const Shape& shape, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x(shape);
  for (std::int64_t k = 0; k < x.numel(); ++k) x.f32()[k] = rng.Uniform();
  return x;
}

TEST(OnnxRoundTrip, F32CnnHasTheSameOutputs) {
  Sequential a = SmallCnn();
  // Non-trivial BatchNorm statistics.
  for (auto& [name, t] : a.NamedTensors()) {
    if (name.find("running_var") != std::string::npos) t->Fill(2.0f);
    if (name.find("running_mean") != std::string::npos) t->Fill(0.25f);
  }
  OnnxImport b = ImportOnnx(ExportOnnx(a, {1, 10, 10}), "cnn.onnx");
  EXPECT_EQ(b.input_shape, (Shape{1, 10, 10}));
  const Tensor x = RandomInput({4, 1, 10, 10}, 5);
  const Tensor ya = a.Forward(x, false).Clone();
  const Tensor& yb = b.model.Forward(x, false);
  ASSERT_EQ(ya.shape(), yb.shape());
  for (std::int64_t k = 0; k < ya.numel(); ++k) EXPECT_EQ(ya.f32()[k], yb.f32()[k]) << k;
}

TEST(OnnxRoundTrip, Int8MlpComesBackAsTheSameInt8Layers) {
  const Tensor w1 = RandomInput({6, 4}, 6), w2 = RandomInput({3, 6}, 7);
  Tensor q1, s1, q2, s2;
  quant::QuantizeRowsS8(w1, q1, s1);
  quant::QuantizeRowsS8(w2, q2, s2);
  const quant::U8Params in = quant::ChooseU8Params(0, 1), hidden = quant::ChooseU8Params(0, 3);
  Sequential a;
  a.Add(quant::MakeQuantizeInput(in));
  a.Add(quant::MakeQuantizedLinear(q1, s1, Tensor::FromVector({6}, {0.1f, 0, 0, -0.1f, 0, 0.2f}),
                                   in, true, true, hidden));
  a.Add(quant::MakeQuantizedLinear(q2, s2, Tensor({3}), hidden, false, false, {}));
  OnnxImport b = ImportOnnx(ExportOnnx(a, {4}), "int8.onnx");
  EXPECT_TRUE(b.int8);
  ASSERT_EQ(b.model.size(), 3u);
  EXPECT_EQ(b.model.layer(1).type(), "QuantizedLinear");
  const Tensor x = RandomInput({16, 4}, 8);
  const Tensor ya = a.Forward(x, false).Clone();
  const Tensor& yb = b.model.Forward(x, false);
  for (std::int64_t k = 0; k < ya.numel(); ++k) EXPECT_EQ(ya.f32()[k], yb.f32()[k]) << k;
}

TEST(OnnxExport, WrongInputShapeIsOneLine) {
  Sequential a = SmallCnn();
  try {
    ExportOnnx(a, {3, 10, 10});
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layer 0 (Conv2d)"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace joule

namespace joule {
namespace {

// A cheap stand-in for the fuzzer in the normal build: random byte edits of
// the committed seeds must end in a model or a joule::Error, nothing else.
TEST(OnnxImport, MutatedSeedsEndInAModelOrAnError) {
  const std::filesystem::path seeds =
      std::filesystem::path(JOULE_SOURCE_DATA_DIR) / ".." / "fuzz" / "corpus" / "onnx_import";
  Rng rng(11);
  int files = 0, errors = 0;
  for (const auto& entry : std::filesystem::directory_iterator(seeds)) {
    const std::string seed = ReadFile(entry.path().string());
    ++files;
    EXPECT_NO_THROW(ImportOnnx(seed, entry.path().string()));
    for (int round = 0; round < 2000; ++round) {
      std::string bytes = seed;
      const int edits = 1 + static_cast<int>(rng.Below(4));
      for (int e = 0; e < edits; ++e) {
        const std::size_t at = rng.Below(bytes.size());
        bytes[at] = static_cast<char>(rng.Below(256));
      }
      if (rng.Below(8) == 0) bytes.resize(static_cast<std::size_t>(rng.Below(bytes.size())));
      try {
        ImportOnnx(bytes, "mutant.onnx");
      } catch (const Error&) {
        ++errors;
      }
    }
  }
  EXPECT_EQ(files, 3);
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace joule

namespace joule {
namespace {

// The chain x -> (one node) -> y with input [batch, 2, 4, 4], for ops that
// need no weights.
onnx::ModelProto OneNode(const std::string& op) {
  onnx::ModelProto m = TinyChain();
  auto* g = m.mutable_graph();
  g->clear_node();
  g->clear_initializer();
  auto* dims = g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape();
  dims->clear_dim();
  dims->add_dim()->set_dim_param("batch");
  for (int d : {2, 4, 4}) dims->add_dim()->set_dim_value(d);
  AddNode(g, "the_node", op, {"x"}, {"probs"});
  return m;
}

TEST(OnnxImport, GeluNeedsTheTanhForm) {
  onnx::ModelProto m = OneNode("Gelu");
  const std::string e = ImportError(Bytes(m));
  EXPECT_NE(e.find("node 'the_node' (Gelu)"), std::string::npos) << e;
  EXPECT_NE(e.find("tanh approximation"), std::string::npos) << e;
  auto* a = m.mutable_graph()->mutable_node(0)->add_attribute();
  a->set_name("approximate");
  a->set_type(onnx::AttributeProto_AttributeType_STRING);
  a->set_s("tanh");
  OnnxImport r = ImportOnnx(Bytes(m), "gelu.onnx");
  EXPECT_EQ(r.model.layer(0).type(), "GELU");
}

TEST(OnnxImport, GlobalAveragePoolIsAnAveragePerChannel) {
  OnnxImport r = ImportOnnx(Bytes(OneNode("GlobalAveragePool")), "gap.onnx");
  Tensor x({1, 2, 4, 4});
  for (std::int64_t k = 0; k < 32; ++k) x.f32()[k] = static_cast<float>(k);
  const Tensor& y = r.model.Forward(x, false);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  EXPECT_FLOAT_EQ(y.f32()[0], 7.5f);
  EXPECT_FLOAT_EQ(y.f32()[1], 23.5f);
}

TEST(OnnxImport, PoolAttributesJouleCannotHonourAreNamed) {
  onnx::ModelProto m = OneNode("MaxPool");
  auto* n = m.mutable_graph()->mutable_node(0);
  test::SetInts(n, "kernel_shape", {2, 3});
  EXPECT_NE(ImportError(Bytes(m)).find("kernel_shape must be the same on every axis"),
            std::string::npos);
  n->clear_attribute();
  test::SetInts(n, "kernel_shape", {2, 2});
  test::SetInt(n, "ceil_mode", 1);
  EXPECT_NE(ImportError(Bytes(m)).find("ceil_mode=1"), std::string::npos);
}

}  // namespace
}  // namespace joule
