// safetensors: bitwise round trips, the exact byte layout, every malformed
// header the reader must refuse (with the byte offset), and a reader written
// independently in Python from the published format.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "joule/nn.hpp"
#include "test_scratch.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// A fresh directory per test: ctest may run the tests of this file in parallel.
std::string ScratchDir() { return test::TestScratchDir("safetensors_test", true); }

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

// 8-byte little-endian length, then `header` as is, then `data`.
std::string FileBytes(const std::string& header, const std::string& data,
                      std::uint64_t length_override = UINT64_MAX) {
  std::uint64_t length = length_override == UINT64_MAX ? header.size() : length_override;
  std::string bytes;
  for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return bytes + header + data;
}

Tensor RandomBytes(Shape shape, DType dtype, Rng& rng) {
  Tensor t(std::move(shape), dtype);
  auto* bytes = static_cast<unsigned char*>(t.raw());
  for (std::size_t i = 0; i < t.nbytes(); ++i) bytes[i] = static_cast<unsigned char>(rng.NextU64());
  return t;
}

// --- round trips ------------------------------------------------------------

TEST(SafetensorsTest, RoundTripIsBitwiseForEveryDtypeAndShape) {
  const std::string path = ScratchDir() + "/all.safetensors";
  Rng rng(3);
  std::vector<std::pair<std::string, Tensor>> originals;
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kS8, DType::kU8, DType::kS32}) {
    const std::string d = DTypeName(dtype);
    originals.emplace_back(d + ".matrix", RandomBytes({3, 5}, dtype, rng));
    originals.emplace_back(d + ".scalar", RandomBytes({}, dtype, rng));
    originals.emplace_back(d + ".empty", RandomBytes({0, 4}, dtype, rng));
    originals.emplace_back(d + ".cube", RandomBytes({2, 1, 3}, dtype, rng));
  }
  // Random bits include NaNs with payloads; they must survive unchanged.
  std::vector<std::pair<std::string, const Tensor*>> refs;
  for (const auto& [name, t] : originals) refs.emplace_back(name, &t);
  WriteSafetensors(path, refs, nlohmann::json());

  auto loaded = ReadSafetensors(path);
  ASSERT_EQ(loaded.size(), originals.size());
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    SCOPED_TRACE(originals[i].first);
    EXPECT_EQ(loaded[i].first, originals[i].first);  // data order = write order
    EXPECT_EQ(loaded[i].second.dtype(), originals[i].second.dtype());
    EXPECT_EQ(loaded[i].second.shape(), originals[i].second.shape());
    ASSERT_EQ(loaded[i].second.nbytes(), originals[i].second.nbytes());
    if (loaded[i].second.nbytes()) {
      EXPECT_EQ(
          std::memcmp(loaded[i].second.raw(), originals[i].second.raw(), loaded[i].second.nbytes()),
          0);
    }
  }
  EXPECT_FALSE(fs::exists(path + ".tmp"));
}

TEST(SafetensorsTest, MetadataValuesAreStoredAsStrings) {
  const std::string path = ScratchDir() + "/meta.safetensors";
  Tensor t = Tensor::FromVector({1}, {1});
  nlohmann::json meta = {{"text", "hello"}, {"epochs", 3}, {"nested", {{"k", {1, 2}}}}};
  WriteSafetensors(path, {{"t", &t}}, meta);
  nlohmann::json read;
  ReadSafetensors(path, &read);
  EXPECT_EQ(read,
            nlohmann::json({{"text", "hello"}, {"epochs", "3"}, {"nested", "{\"k\":[1,2]}"}}));

  // No metadata: no "__metadata__" key, and the reader reports an empty object.
  WriteSafetensors(path, {{"t", &t}}, nlohmann::json::object());
  EXPECT_EQ(ReadFile(path).find("__metadata__"), std::string::npos);
  ReadSafetensors(path, &read);
  EXPECT_EQ(read, nlohmann::json::object());
}

// --- the exact layout -------------------------------------------------------

TEST(SafetensorsTest, GoldenByteLayout) {
  const std::string path = ScratchDir() + "/golden.safetensors";
  Tensor w = Tensor::FromVector({2}, {1.0f, -2.0f});
  Tensor b(Shape{}, DType::kU8);
  *b.data<std::uint8_t>() = 7;
  WriteSafetensors(path, {{"w", &w}, {"b", &b}}, {{"k", "v"}});

  // The JSON header is 130 bytes; 6 spaces pad it to 136 = 0x88, a multiple
  // of 8. Tensors follow in order: w at data bytes [0, 8), b at [8, 9).
  std::string expected("\x88\0\0\0\0\0\0\0", 8);
  expected +=
      "{\"__metadata__\":{\"k\":\"v\"},"
      "\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[8,9]}}"
      "      ";
  expected += std::string("\x00\x00\x80\x3f", 4);  // 1.0f little-endian
  expected += std::string("\x00\x00\x00\xc0", 4);  // -2.0f
  expected += std::string("\x07", 1);
  EXPECT_EQ(ReadFile(path), expected);
}

// --- malformed files --------------------------------------------------------

// Writes `bytes`, reads it back, and expects an Error naming the file and
// "byte offset <offset>" plus `detail`.
void ExpectRejected(const std::string& path, const std::string& bytes, std::uint64_t offset,
                    const std::string& detail) {
  WriteBytes(path, bytes);
  try {
    ReadSafetensors(path);
    ADD_FAILURE() << "no Error for " << detail;
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ": byte offset " + std::to_string(offset) + ":"));
    EXPECT_THAT(e.what(), HasSubstr(detail));
  }
}

TEST(SafetensorsTest, RejectsMalformedFilesWithTheByteOffset) {
  const std::string path = ScratchDir() + "/bad.safetensors";
  const std::string f32x2 = R"("dtype":"F32","shape":[2],"data_offsets":[0,8])";
  const std::string eight(8, '\0');

  ExpectRejected(path, "abc", 0, "too short");
  ExpectRejected(path, FileBytes("{}", "", 1000), 0, "header length 1000 runs past the end");
  // The ']' at header index 7 is where the parser fails: file byte 8 + 7.
  ExpectRejected(path, FileBytes(R"({"a":1,])", ""), 15, "not valid JSON");
  ExpectRejected(path, FileBytes("[1, 2]", ""), 8, "must be a JSON object");
  ExpectRejected(path, FileBytes(R"({"a": 3})", ""), 8, "header entry 'a'");
  ExpectRejected(path, FileBytes(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", eight), 8,
                 "\"dtype\"");
  ExpectRejected(path,
                 FileBytes(R"({"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", eight), 8,
                 "\"F64\" is not supported");
  ExpectRejected(path,
                 FileBytes(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight), 8,
                 "not a non-negative integer");
  ExpectRejected(path,
                 FileBytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight), 8,
                 "data_offsets");
  ExpectRejected(path, FileBytes(R"({"a":{"dtype":"F32","shape":[2]}})", eight), 8, "data_offsets");

  // Data-level problems point into the data: it starts at 8 + header size.
  std::string header = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})";
  ExpectRejected(path, FileBytes(header, eight), 8 + header.size(), "need 12 bytes");

  header = "{\"a\":{" + f32x2 + "}}";
  ExpectRejected(path, FileBytes(header, "1234"), 8 + header.size(), "run past the end");

  header = "{\"a\":{" + f32x2 + R"(},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  ExpectRejected(path, FileBytes(header, eight), 8 + header.size() + 4,
                 "tensor 'b' overlaps tensor 'a'");

  header = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
           R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  ExpectRejected(path, FileBytes(header, std::string(12, '\0')), 8 + header.size() + 4,
                 "belong to no tensor");

  header = "{\"a\":{" + f32x2 + "}}";
  ExpectRejected(path, FileBytes(header, eight + "xy"), 8 + header.size() + 8, "2 trailing bytes");

  header = "{\"__metadata__\":{\"n\":3},\"a\":{" + f32x2 + "}}";
  ExpectRejected(path, FileBytes(header, eight), 8, "'n' must be a string");
}

TEST(SafetensorsTest, AcceptsAHandWrittenFileWithZeroSizedTensors) {
  // Unpadded header, keys out of data order, two empty tensors at one offset.
  const std::string path = ScratchDir() + "/hand.safetensors";
  std::string header = R"({"z":{"dtype":"I32","shape":[1],"data_offsets":[0,4]},)"
                       R"("e1":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                       R"("e2":{"dtype":"BF16","shape":[3,0],"data_offsets":[4,4]},)"
                       R"("a":{"dtype":"I8","shape":[2],"data_offsets":[4,6]}})";
  WriteBytes(path, FileBytes(header, std::string("\x05\x00\x00\x00\xff\x02", 6)));
  auto t = ReadSafetensors(path);
  ASSERT_EQ(t.size(), 4u);
  EXPECT_EQ(t[0].first, "z");
  EXPECT_EQ(*t[0].second.data<std::int32_t>(), 5);
  EXPECT_EQ(t[3].first, "a");
  EXPECT_EQ(t[3].second.data<std::int8_t>()[0], -1);
  EXPECT_EQ(t[3].second.data<std::int8_t>()[1], 2);
  EXPECT_EQ(t[2].second.shape(), Shape({3, 0}));
}

TEST(SafetensorsTest, MissingFileIsAnError) {
  const std::string path = ScratchDir() + "/nothing.safetensors";
  try {
    ReadSafetensors(path);
    FAIL() << "no Error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
  }
}

TEST(SafetensorsTest, WriterRejectsBadNamesEmptyTensorsAndBadMetadata) {
  const std::string path = ScratchDir() + "/w.safetensors";
  Tensor t = Tensor::FromVector({1}, {1}), empty;
  EXPECT_THROW(WriteSafetensors(path, {{"a", &t}, {"a", &t}}, nullptr), Error);
  EXPECT_THROW(WriteSafetensors(path, {{"__metadata__", &t}}, nullptr), Error);
  EXPECT_THROW(WriteSafetensors(path, {{"e", &empty}}, nullptr), Error);
  EXPECT_THROW(WriteSafetensors(path, {{"a", &t}}, nlohmann::json::array({1})), Error);
  EXPECT_FALSE(fs::exists(path));
  EXPECT_THROW(WriteSafetensors(ScratchDir() + "/no/such/dir/x.safetensors", {{"a", &t}}, nullptr),
               Error);
}

// --- Python -------------------------------------------------------------------

// Python's `safetensors` package is not installed here (no PyPI), so
// read_safetensors.py, written from the published format with only json and
// struct, stands in for it: it parses a joule-written file and prints every
// tensor's values as JSON.
TEST(SafetensorsTest, PythonReaderReadsAJouleFile) {
  const char* python = "/usr/bin/python3";
  if (!fs::exists(python)) GTEST_SKIP() << python << " is not installed";
  const std::string script = (fs::path(__FILE__).parent_path() / "read_safetensors.py").string();
  ASSERT_TRUE(fs::exists(script)) << script;

  const std::string path = ScratchDir() + "/py.safetensors";
  Tensor w = Tensor::FromVector({2, 3}, {0.5f, -1.25f, 3.0f, 1e-3f, -0.0f, 65504.0f});
  Tensor h = Tensor::FromVector({2}, {1.5f, -2.0f}).To(DType::kBF16);
  Tensor i8({3}, DType::kS8), u8({2}, DType::kU8), i32({}, DType::kS32);
  i8.data<std::int8_t>()[0] = -128;
  i8.data<std::int8_t>()[2] = 127;
  u8.data<std::uint8_t>()[1] = 255;
  *i32.data<std::int32_t>() = -123456789;
  WriteSafetensors(path, {{"w", &w}, {"h", &h}, {"i8", &i8}, {"u8", &u8}, {"i32", &i32}},
                   {{"epochs", 3}});

  std::string output;
  {
    std::string command = std::string(python) + " " + script + " " + path;
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output.append(buffer, n);
    ASSERT_EQ(pclose(pipe), 0) << output;
  }
  nlohmann::json got = nlohmann::json::parse(output);
  EXPECT_EQ(got["__metadata__"], nlohmann::json({{"epochs", "3"}}));
  EXPECT_EQ(got["w"]["dtype"], "F32");
  EXPECT_EQ(got["w"]["shape"], nlohmann::json({2, 3}));
  const std::vector<double> w_values = got["w"]["values"];
  ASSERT_EQ(w_values.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_EQ(w_values[i], w.f32()[i]) << i;
  EXPECT_EQ(got["h"]["values"], nlohmann::json({1.5, -2.0}));
  EXPECT_EQ(got["i8"]["values"], nlohmann::json({-128, 0, 127}));
  EXPECT_EQ(got["u8"]["values"], nlohmann::json({0, 255}));
  EXPECT_EQ(got["i32"]["shape"], nlohmann::json::array());
  EXPECT_EQ(got["i32"]["values"], nlohmann::json({-123456789}));
}

}  // namespace
}  // namespace joule
