// Malformed input through the joule binary: each case must end in exactly one
// line on stderr naming the file and the place, and a non-zero exit.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "e2e/e2e_util.hpp"

namespace joule::test {
namespace {

std::string BigEndian32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A directory of MNIST-named IDX files with `n` images of 28x28 and `labels`
// labels; the caller then breaks one of them.
std::string IdxDir(const std::string& name, std::uint32_t n, std::uint32_t labels) {
  std::string dir = ScratchDir(name);
  std::string images = BigEndian32(2051) + BigEndian32(n) + BigEndian32(28) + BigEndian32(28) +
                       std::string(n * 784, '\x10');
  std::string label_bytes = BigEndian32(2049) + BigEndian32(labels) + std::string(labels, '\x03');
  for (const char* split : {"train", "t10k"}) {
    WriteBytes(dir + "/" + split + "-images-idx3-ubyte", images);
    WriteBytes(dir + "/" + split + "-labels-idx1-ubyte", label_bytes);
  }
  return dir;
}

void ExpectOneLineError(const CommandResult& r, const std::string& must_contain1,
                        const std::string& must_contain2) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.exit_code, 128 + 6) << "aborted";   // SIGABRT
  EXPECT_NE(r.exit_code, 128 + 11) << "crashed";  // SIGSEGV
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(must_contain1), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(must_contain2), std::string::npos) << r.err;
}

TEST(BadInput, IdxWrongMagicNamesFileAndOffset) {
  std::string dir = IdxDir("idx_magic", 4, 4);
  std::string images = BigEndian32(2049) + BigEndian32(4) + BigEndian32(28) + BigEndian32(28) +
                       std::string(4 * 784, '\x10');
  WriteBytes(dir + "/train-images-idx3-ubyte", images);
  auto r = RunJoule("train --data " + dir + " --epochs 1");
  ExpectOneLineError(r, "train-images-idx3-ubyte", "offset 0");
}

TEST(BadInput, IdxTruncatedNamesFileAndOffset) {
  std::string dir = IdxDir("idx_truncated", 4, 4);
  std::string images = BigEndian32(2051) + BigEndian32(4) + BigEndian32(28) + BigEndian32(28) +
                       std::string(3 * 784 + 100, '\x10');
  WriteBytes(dir + "/train-images-idx3-ubyte", images);
  auto r = RunJoule("train --data " + dir + " --epochs 1");
  ExpectOneLineError(r, "train-images-idx3-ubyte", "offset");
}

TEST(BadInput, IdxCountMismatchBetweenImagesAndLabels) {
  std::string dir = IdxDir("idx_count", 4, 3);
  auto r = RunJoule("train --data " + dir + " --epochs 1");
  ExpectOneLineError(r, "labels-idx1-ubyte", "4");
}

TEST(BadInput, CsvRaggedRowNamesLine) {
  std::string dir = ScratchDir("csv_ragged");
  WriteBytes(dir + "/t.csv", "a,b,y\n1,2,0\n3,4\n5,6,1\n");
  auto r = RunJoule("train --data " + dir + "/t.csv --target y --epochs 1");
  ExpectOneLineError(r, "t.csv:3:", "t.csv");
}

TEST(BadInput, CsvNonNumericCellNamesLine) {
  std::string dir = ScratchDir("csv_text");
  WriteBytes(dir + "/t.csv", "a,b,y\n1,2,0\n3,four,1\n");
  auto r = RunJoule("train --data " + dir + "/t.csv --target y --epochs 1");
  ExpectOneLineError(r, "t.csv:3:", "t.csv");
}

TEST(BadInput, CsvNanNamesLine) {
  std::string dir = ScratchDir("csv_nan");
  WriteBytes(dir + "/t.csv", "a,b,y\n1,2,0\n3,4,1\nnan,6,1\n");
  auto r = RunJoule("train --data " + dir + "/t.csv --target y --epochs 1");
  ExpectOneLineError(r, "t.csv:4:", "NaN");
}

TEST(BadInput, MissingFileIsNamed) {
  auto r = RunJoule("train --data /nonexistent/table.csv --target y --epochs 1");
  ExpectOneLineError(r, "/nonexistent/table.csv", "table.csv");
}

TEST(BadInput, BadFlagValueIsNamed) {
  auto r = RunJoule("train --epochs -3");
  ExpectOneLineError(r, "--epochs", "-3");
  auto r2 = RunJoule("train --precision fp8");
  ExpectOneLineError(r2, "--precision", "fp8");
}

TEST(BadInput, SaveIntoUnwritablePlaceLeavesNoFile) {
  auto r = RunJoule("eval --model /nonexistent/model --data mnist");
  ExpectOneLineError(r, "/nonexistent/model", "model");
}

}  // namespace
}  // namespace joule::test
