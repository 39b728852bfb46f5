// joule import / joule export through the binary: a malformed ONNX file of
// each kind ends in one line on stderr naming the node or tensor, a non-zero
// exit, and nothing at --out; a good one imports and exports.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include "e2e/e2e_util.hpp"
#include "interop/onnx_builders.hpp"
#include "joule/util.hpp"

namespace joule::test {
namespace {

void ExpectRefused(const std::string& name, const std::string& bytes, const std::string& needle1,
                   const std::string& needle2) {
  const std::string dir = ScratchDir("onnx_" + name);
  WriteBytes(dir + "/m.onnx", bytes);
  const CommandResult r = RunJoule("import " + dir + "/m.onnx --out " + dir + "/out");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle1), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(needle2), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/out")) << "something was written";
}

TEST(OnnxImportCommand, TruncatedFile) {
  const std::string bytes = Bytes(TinyChain());
  ExpectRefused("truncated", bytes.substr(0, bytes.size() / 2), "m.onnx", "not a valid ONNX");
}

TEST(OnnxImportCommand, WrongOpset) {
  ExpectRefused("opset", Bytes(TinyChain(7)), "opset 7", "13 to 17");
}

TEST(OnnxImportCommand, DanglingInput) {
  onnx::ModelProto m = TinyChain();
  m.mutable_graph()->mutable_node(3)->set_input(0, "ghost");
  ExpectRefused("dangling", Bytes(m), "node 'relu' (Relu)", "dangling");
}

TEST(OnnxImportCommand, TerabyteTensor) {
  onnx::ModelProto m = TinyChain();
  onnx::TensorProto* w = m.mutable_graph()->mutable_initializer(0);
  w->clear_dims();
  w->add_dims(std::int64_t{1} << 20);
  w->add_dims(std::int64_t{1} << 18);  // 2^38 floats: 1 TiB
  ExpectRefused("huge", Bytes(m), "initializer 'fc1.weight'", "holds 12 elements");
}

TEST(OnnxImportCommand, UnsupportedOp) {
  onnx::ModelProto m = TinyChain();
  m.mutable_graph()->mutable_node(3)->set_op_type("Elu");
  ExpectRefused("unsupported", Bytes(m), "node 'relu' (Elu)", "joule imports Gemm");
}

TEST(OnnxImportCommand, GoodFileImportsAndExports) {
  const std::string dir = ScratchDir("onnx_good");
  WriteBytes(dir + "/m.onnx", Bytes(TinyChain()));
  CommandResult r = RunJoule("import " + dir + "/m.onnx --out " + dir + "/out");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("input [1, 2, 2] per sample, opset 13"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/out/model.safetensors"));
  r = RunJoule("export " + dir + "/out --onnx " + dir + "/back.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  onnx::ModelProto back;
  ASSERT_TRUE(back.ParseFromString(joule::ReadFile(dir + "/back.onnx")));
  EXPECT_EQ(back.opset_import(0).version(), 13);
  // A second import into the same directory is refused, not merged.
  r = RunJoule("import " + dir + "/m.onnx --out " + dir + "/out");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("not an empty directory"), std::string::npos) << r.err;
}

TEST(OnnxImportCommand, NormalisationIsRecordedAndChecked) {
  const std::string dir = ScratchDir("onnx_norm");
  WriteBytes(dir + "/m.onnx", Bytes(TinyChain()));
  CommandResult r = RunJoule("import " + dir + "/m.onnx --out " + dir + "/bad --input-std 0 " +
                             "--input-mean 0.5");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--input-std"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/bad"));
  r = RunJoule("import " + dir + "/m.onnx --out " + dir + "/ok --input-mean 0.5 --input-std 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string json = joule::ReadFile(dir + "/ok/model.json");
  EXPECT_NE(json.find("\"feature_mean\""), std::string::npos) << json;
  r = RunJoule("export " + dir + "/ok --onnx " + dir + "/ok.onnx");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("normalised inputs"), std::string::npos) << r.out;
}

TEST(OnnxExportCommand, ErrorsWriteNothing) {
  const std::string dir = ScratchDir("onnx_export_errors");
  CommandResult r = RunJoule("export " + dir + "/missing --onnx " + dir + "/x.onnx");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.onnx"));
  WriteBytes(dir + "/m.onnx", Bytes(TinyChain()));
  ASSERT_EQ(RunJoule("import " + dir + "/m.onnx --out " + dir + "/model").exit_code, 0);
  r = RunJoule("export " + dir + "/model --onnx " + dir + "/x.onnx --input-shape 3,3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("does not fit layer"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.onnx"));
}

TEST(OnnxImportCommand, HelpNamesOpsAndOpsets) {
  CommandResult r = RunJoule("import --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("Opsets 13 to 17"), std::string::npos) << r.out;
  r = RunJoule("export --help");
  EXPECT_NE(r.out.find("QDQ"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace joule::test
