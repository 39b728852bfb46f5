// joule bench-infer through the binary: the JSON figures a script reads, and
// one-line errors on bad input.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

std::string BigEndian32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A tiny IDX set whose every label is 3: a model trained on it answers 3.
std::string ConstantIdxDir(const std::string& name, std::uint32_t n) {
  std::string dir = ScratchDir(name);
  std::string images = BigEndian32(2051) + BigEndian32(n) + BigEndian32(28) + BigEndian32(28) +
                       std::string(n * 784, '\x40');
  std::string labels = BigEndian32(2049) + BigEndian32(n) + std::string(n, '\x03');
  for (const char* split : {"train", "t10k"}) {
    WriteBytes(dir + "/" + split + "-images-idx3-ubyte", images);
    WriteBytes(dir + "/" + split + "-labels-idx1-ubyte", labels);
  }
  return dir;
}

TEST(BenchInfer, JsonHasEveryFigureWithItsEnergyMethod) {
  const std::string data = ConstantIdxDir("bench_infer_data", 300);
  const std::string model = ScratchDir("bench_infer_model") + "/m";
  CommandResult t =
      RunJoule("train --data " + data + " --model mlp --epochs 2 --threads 1 --save " + model);
  ASSERT_EQ(t.exit_code, 0) << t.err;
  CommandResult r = RunJoule("bench-infer " + model + " --data " + data +
                             " --threads 1 --seconds 0.3 --latency-samples 50 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j.at("accuracy").get<double>(), 1.0);
  EXPECT_EQ(j.at("rows").get<int>(), 300);
  EXPECT_GT(j.at("latency_p50_ms").get<double>(), 0);
  EXPECT_GE(j.at("latency_p99_ms").get<double>(), j.at("latency_p50_ms").get<double>());
  EXPECT_GT(j.at("throughput_per_s").get<double>(), 0);
  EXPECT_GT(j.at("j_per_1000").get<double>(), 0);
  // This machine class has no energy sensor: the figure must say it is an estimate.
  const std::string method = j.at("energy_method").get<std::string>();
  EXPECT_TRUE(method.rfind("estimated:", 0) == 0 || method.rfind("measured:", 0) == 0) << method;
  EXPECT_GT(j.at("size_bytes").get<long long>(), 4 * 233984);  // f32 weights at least
  // Labels 0..3 make a 4-way output layer.
  EXPECT_EQ(j.at("macs_per_sample").get<double>(), 784.0 * 256 + 256.0 * 128 + 128.0 * 4);
}

TEST(BenchInfer, MissingModelIsOneLineAndExit2) {
  CommandResult r = RunJoule("bench-infer /nonexistent/model --threads 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/nonexistent/model/model.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(BenchInfer, BadFlagValueIsOneLineAndExit2) {
  CommandResult r = RunJoule("bench-infer /tmp --batch 0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--batch"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace joule::test
