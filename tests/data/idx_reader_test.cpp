#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "joule/data.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

// A fresh directory per test, so fixtures never leak between tests.
std::string FixtureDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(JOULE_TEST_BINARY_DIR) / "data_fixtures" /
                 (std::string(info->test_suite_name()) + "." + info->name());
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

std::string WriteBytes(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::string path = dir + "/" + name;
  WriteFileAtomic(path, bytes);
  return path;
}

void PutU32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

std::string ImagesFile(std::uint32_t count, std::uint32_t rows, std::uint32_t cols,
                       const std::vector<std::uint8_t>& pixels) {
  std::string out;
  PutU32(out, 2051);
  PutU32(out, count);
  PutU32(out, rows);
  PutU32(out, cols);
  out.append(pixels.begin(), pixels.end());
  return out;
}

std::string LabelsFile(std::uint32_t count, const std::vector<std::uint8_t>& labels) {
  std::string out;
  PutU32(out, 2049);
  PutU32(out, count);
  out.append(labels.begin(), labels.end());
  return out;
}

// gzip-wrapped deflate of `plain` (windowBits 15 + 16 selects the gzip wrapper).
std::string Gzip(const std::string& plain) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&zs, plain.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plain.data()));
  zs.avail_in = static_cast<uInt>(plain.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

// Three 2x3 images with distinct pixels, labels 2, 0, 1.
const std::vector<std::uint8_t> kPixels = {0, 255, 51, 102, 153, 204, 1,  2,  3,
                                           4, 5,   6,  7,   8,   9,   10, 11, 12};
const std::vector<std::uint8_t> kLabels = {2, 0, 1};

std::string ErrorOf(const std::string& images, const std::string& labels) {
  try {
    LoadIdx(images, labels);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "LoadIdx accepted " << images << " + " << labels;
  return "";
}

void ExpectTinySet(const Dataset& d) {
  ASSERT_EQ(d.x.shape(), (Shape{3, 1, 2, 3}));
  ASSERT_EQ(d.y.shape(), (Shape{3}));
  EXPECT_EQ(d.rows(), 3);
  EXPECT_EQ(d.features(), 6);
  EXPECT_EQ(d.task, Task::kClassification);
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_TRUE(d.feature_names.empty());
  for (std::size_t i = 0; i < kPixels.size(); ++i) {
    EXPECT_FLOAT_EQ(d.x.f32()[i], kPixels[i] / 255.0f) << "pixel " << i;
  }
  EXPECT_EQ(d.x.f32()[1], 1.0f);
  for (std::size_t i = 0; i < kLabels.size(); ++i) EXPECT_EQ(d.y.f32()[i], kLabels[i]);
}

TEST(IdxReader, PlainRoundTrip) {
  std::string dir = FixtureDir();
  ExpectTinySet(LoadIdx(WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels)),
                        WriteBytes(dir, "lbl", LabelsFile(3, kLabels))));
}

TEST(IdxReader, GzipRoundTripDetectedByMagicNotName) {
  std::string dir = FixtureDir();
  // Named without .gz on purpose: the reader must look at the bytes.
  ExpectTinySet(LoadIdx(WriteBytes(dir, "img", Gzip(ImagesFile(3, 2, 3, kPixels))),
                        WriteBytes(dir, "lbl.gz", Gzip(LabelsFile(3, kLabels)))));
}

TEST(IdxReader, ConcatenatedGzipMembersAreOneStream) {
  std::string dir = FixtureDir();
  std::string images = ImagesFile(3, 2, 3, kPixels);
  std::string two_members = Gzip(images.substr(0, 20)) + Gzip(images.substr(20));
  ExpectTinySet(LoadIdx(WriteBytes(dir, "img.gz", two_members),
                        WriteBytes(dir, "lbl", LabelsFile(3, kLabels))));
}

TEST(IdxReader, WrongMagicNamesFileOffsetAndBothNumbers) {
  std::string dir = FixtureDir();
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  // Labels passed as images: a swapped pair.
  std::string message = ErrorOf(labels, labels);
  EXPECT_THAT(message,
              AllOf(HasSubstr(labels), HasSubstr("byte offset 0"), HasSubstr("magic"),
                    HasSubstr("expected 2051"), HasSubstr("found 2049"), HasSubstr("swapped")));
}

TEST(IdxReader, WrongMagicInsideGzipSaysDecompressed) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img.gz", Gzip("not an idx file at all"));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr("img.gz"), HasSubstr("byte offset 0 of the decompressed"),
                    HasSubstr("expected 2051")));
}

TEST(IdxReader, TruncatedHeader) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels).substr(0, 10));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset 10"), HasSubstr("truncated header"),
                    HasSubstr("expected 16 bytes, found 10")));
}

TEST(IdxReader, EmptyFileIsATruncatedHeader) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels));
  std::string labels = WriteBytes(dir, "lbl", "");
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(labels), HasSubstr("byte offset 0"), HasSubstr("expected 8 bytes")));
}

TEST(IdxReader, TruncatedImageData) {
  std::string dir = FixtureDir();
  // Header promises 18 pixels; only 11 follow.
  std::string bytes = ImagesFile(3, 2, 3, kPixels);
  std::string images = WriteBytes(dir, "img", bytes.substr(0, 16 + 11));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset 27"), HasSubstr("truncated"),
                    HasSubstr("expected 18 bytes"), HasSubstr("found 11")));
}

TEST(IdxReader, TruncatedLabelDataInsideGzip) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels));
  std::string labels = WriteBytes(dir, "lbl.gz", Gzip(LabelsFile(3, kLabels).substr(0, 9)));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(labels), HasSubstr("byte offset 9 of the decompressed"),
                    HasSubstr("expected 3 bytes"), HasSubstr("found 1")));
}

TEST(IdxReader, HugeClaimedCountFailsAsTruncationWithoutAllocatingIt) {
  std::string dir = FixtureDir();
  // 10^6 images of 28x28 claimed, none present.
  std::string images = WriteBytes(dir, "img", ImagesFile(1000000, 28, 28, {}));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(1000000, {}));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset 16"), HasSubstr("found 0")));
}

TEST(IdxReader, ImpossibleSizeRefused) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(0xffffffffu, 0xffff, 0xffff, {}));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(0xffffffffu, {}));
  EXPECT_THAT(ErrorOf(images, labels), AllOf(HasSubstr(images), HasSubstr("byte offset 4")));
}

TEST(IdxReader, ZeroDimensionRefused) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 0, 3, {}));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset 8"), HasSubstr("row count is 0")));
}

TEST(IdxReader, CountMismatchBetweenImagesAndLabels) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(2, {2, 0}));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(labels), HasSubstr("byte offset 4"), HasSubstr("label count 2"),
                    HasSubstr("image count 3"), HasSubstr(images)));
}

TEST(IdxReader, TrailingBytes) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels) + "extra");
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset 34"), HasSubstr("5 trailing bytes")));
}

TEST(IdxReader, TrailingBytesInsideGzip) {
  std::string dir = FixtureDir();
  std::string images = WriteBytes(dir, "img", ImagesFile(3, 2, 3, kPixels));
  std::string labels = WriteBytes(dir, "lbl.gz", Gzip(LabelsFile(3, kLabels) + "x"));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(labels), HasSubstr("byte offset 11 of the decompressed"),
                    HasSubstr("1 trailing byte after")));
}

TEST(IdxReader, CorruptGzipChecksum) {
  std::string dir = FixtureDir();
  std::string gz = Gzip(ImagesFile(3, 2, 3, kPixels));
  gz[gz.size() - 8] = static_cast<char>(gz[gz.size() - 8] ^ 0x5a);  // the CRC-32 trailer
  std::string images = WriteBytes(dir, "img.gz", gz);
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels), AllOf(HasSubstr(images), HasSubstr("compressed byte offset"),
                                             HasSubstr("corrupt gzip stream")));
}

TEST(IdxReader, CorruptGzipHeader) {
  std::string dir = FixtureDir();
  std::string gz = Gzip(ImagesFile(3, 2, 3, kPixels));
  gz[2] = 7;  // compression method: only 8 (deflate) exists
  std::string images = WriteBytes(dir, "img.gz", gz);
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images), HasSubstr("byte offset"), HasSubstr("corrupt gzip")));
}

TEST(IdxReader, TruncatedGzipStream) {
  std::string dir = FixtureDir();
  std::string gz = Gzip(ImagesFile(3, 2, 3, kPixels));
  std::string images = WriteBytes(dir, "img.gz", gz.substr(0, gz.size() - 12));
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(images, labels),
              AllOf(HasSubstr(images),
                    HasSubstr("compressed byte offset " + std::to_string(gz.size() - 12)),
                    HasSubstr("truncated")));
}

TEST(IdxReader, GarbageAfterGzipStream) {
  std::string dir = FixtureDir();
  std::string gz = Gzip(ImagesFile(3, 2, 3, kPixels));
  std::string images = WriteBytes(dir, "img.gz", gz + "junk");
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(
      ErrorOf(images, labels),
      AllOf(HasSubstr(images), HasSubstr("compressed byte offset " + std::to_string(gz.size())),
            HasSubstr("after the end of the gzip stream")));
}

TEST(IdxReader, MissingFileNamed) {
  std::string dir = FixtureDir();
  std::string labels = WriteBytes(dir, "lbl", LabelsFile(3, kLabels));
  EXPECT_THAT(ErrorOf(dir + "/nope", labels),
              AllOf(HasSubstr(dir + "/nope"), HasSubstr("cannot open")));
}

TEST(IdxReader, DirectoryWithMnistNamesPlainAndGzip) {
  std::string dir = FixtureDir();
  WriteBytes(dir, "train-images-idx3-ubyte", ImagesFile(3, 2, 3, kPixels));
  WriteBytes(dir, "train-labels-idx1-ubyte.gz", Gzip(LabelsFile(3, kLabels)));
  WriteBytes(dir, "t10k-images-idx3-ubyte.gz", Gzip(ImagesFile(1, 2, 3, {9, 9, 9, 9, 9, 9})));
  ExpectTinySet(LoadIdxDir(dir, /*train=*/true));
  // The test split is still missing its labels: the message names that file.
  try {
    LoadIdxDir(dir, /*train=*/false);
    ADD_FAILURE() << "loaded a split without labels";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("t10k-labels-idx1-ubyte"));
    EXPECT_THAT(e.what(), HasSubstr("missing"));
  }
  WriteBytes(dir, "t10k-labels-idx1-ubyte", LabelsFile(1, {4}));
  Dataset test = LoadIdxDir(dir, /*train=*/false);
  EXPECT_EQ(test.rows(), 1);
  EXPECT_EQ(test.y.f32()[0], 4.0f);
  EXPECT_EQ(test.num_classes, 5);
}

TEST(IdxReader, MissingDirectoryNamed) {
  try {
    LoadIdxDir("/nonexistent/joule-data", true);
    ADD_FAILURE() << "loaded a missing directory";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/joule-data"));
  }
}

TEST(BundledMnist, HasDocumentedCountsShapesAndClassBalance) {
  const std::string dir = std::string(JOULE_SOURCE_DATA_DIR) + "/mnist";
  Dataset train = LoadIdxDir(dir, true);
  ASSERT_EQ(train.x.shape(), (Shape{60000, 1, 28, 28}));
  ASSERT_EQ(train.y.shape(), (Shape{60000}));
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(ClassCounts(train), (std::vector<std::int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918,
                                                           6265, 5851, 5949}));
  EXPECT_EQ(train.y.f32()[0], 5.0f);  // MNIST's first training digit is a 5
  float lo = 1, hi = 0;
  for (std::int64_t i = 0; i < train.x.numel(); ++i) {
    lo = std::min(lo, train.x.f32()[i]);
    hi = std::max(hi, train.x.f32()[i]);
  }
  EXPECT_EQ(lo, 0.0f);
  EXPECT_EQ(hi, 1.0f);
  // The widely quoted MNIST normalisation constants.
  Normalizer global = Normalizer::FitGlobal(train);
  ASSERT_EQ(global.mean.size(), 784u);
  EXPECT_NEAR(global.mean[0], 0.1307f, 1e-4f);
  EXPECT_NEAR(global.stddev[783], 0.3081f, 1e-4f);

  Dataset test = LoadIdxDir(dir, false);
  ASSERT_EQ(test.x.shape(), (Shape{10000, 1, 28, 28}));
  EXPECT_EQ(ClassCounts(test),
            (std::vector<std::int64_t>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}));
  EXPECT_EQ(test.y.f32()[0], 7.0f);  // and its first test digit a 7
}

TEST(BundledMnist, LoadMnistFindsTheBundledData) {
  // DataDir() falls back to the source tree's data/ when JOULE_DATA_DIR is unset.
  Dataset test = LoadMnist(false);
  EXPECT_EQ(test.rows(), 10000);
  EXPECT_EQ(test.features(), 784);
}

}  // namespace
}  // namespace joule
