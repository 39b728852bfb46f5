#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "joule/data.hpp"

namespace joule {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Writes `text` to a fresh file named after the running test.
std::string CsvFile(const std::string& text) {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  fs::path dir = fs::path(JOULE_TEST_BINARY_DIR) / "data_fixtures" / "csv";
  fs::create_directories(dir);
  std::string path = (dir / (std::string(info->name()) + ".csv")).string();
  WriteFileAtomic(path, text);
  return path;
}

std::string ErrorOf(const std::string& path, const std::string& target,
                    Task task = Task::kClassification) {
  try {
    LoadCsv(path, target, task);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "LoadCsv accepted " << path;
  return "";
}

std::vector<float> Values(const Tensor& t) { return {t.f32(), t.f32() + t.numel()}; }

TEST(CsvReader, ParsesValuesTargetAndNames) {
  std::string path = CsvFile("a,label,b\n1,0,2.5\n-3,2,4e2\n0.125,1,+7\n");
  Dataset d = LoadCsv(path, "label", Task::kClassification);
  ASSERT_EQ(d.x.shape(), (Shape{3, 2}));
  EXPECT_THAT(Values(d.x), ElementsAre(1.0f, 2.5f, -3.0f, 400.0f, 0.125f, 7.0f));
  EXPECT_THAT(Values(d.y), ElementsAre(0.0f, 2.0f, 1.0f));
  EXPECT_THAT(d.feature_names, ElementsAre("a", "b"));
  EXPECT_EQ(d.task, Task::kClassification);
  EXPECT_EQ(d.num_classes, 3);
  EXPECT_EQ(d.features(), 2);
}

TEST(CsvReader, CrLfQuotesBomBlankLinesNoTrailingNewline) {
  std::string path = CsvFile(
      "\xEF\xBB\xBF\"x, the first\",\"y\" ,z\r\n"
      "\"1.5\", 2 ,3\r\n"
      "\r\n"
      " 4 ,\"5\",6");
  Dataset d = LoadCsv(path, "z", Task::kRegression);
  ASSERT_EQ(d.x.shape(), (Shape{2, 2}));
  EXPECT_THAT(Values(d.x), ElementsAre(1.5f, 2.0f, 4.0f, 5.0f));
  EXPECT_THAT(Values(d.y), ElementsAre(3.0f, 6.0f));
  EXPECT_THAT(d.feature_names, ElementsAre("x, the first", "y"));
  EXPECT_EQ(d.task, Task::kRegression);
  EXPECT_EQ(d.num_classes, 0);
}

TEST(CsvReader, RegressionTakesNonIntegerTargets) {
  Dataset d = LoadCsv(CsvFile("f,t\n1,0.5\n2,-1.25\n"), "t", Task::kRegression);
  EXPECT_THAT(Values(d.y), ElementsAre(0.5f, -1.25f));
}

TEST(CsvReader, RaggedRowGivesLineAndCounts) {
  std::string path = CsvFile("a,b,c\n1,2,3\n4,5\n");
  EXPECT_THAT(ErrorOf(path, "c"),
              AllOf(HasSubstr(path + ":3:"), HasSubstr("expected 3 fields"), HasSubstr("found 2")));
}

TEST(CsvReader, NonNumericCellIsQuoted) {
  std::string path = CsvFile("a,b\n1,2\n3,4\nfoo,5\n");
  EXPECT_THAT(ErrorOf(path, "b"), AllOf(HasSubstr(path + ":4:"), HasSubstr("column 1 ('a')"),
                                        HasSubstr("\"foo\""), HasSubstr("not a number")));
}

TEST(CsvReader, NumberWithTrailingJunkIsNotANumber) {
  std::string path = CsvFile("a,b\n1.5kg,2\n");
  EXPECT_THAT(ErrorOf(path, "b"), AllOf(HasSubstr(path + ":2:"), HasSubstr("\"1.5kg\"")));
}

TEST(CsvReader, NanRefused) {
  std::string path = CsvFile("a,b\n1,2\nNaN,3\n");
  EXPECT_THAT(ErrorOf(path, "b"), AllOf(HasSubstr(path + ":3:"), HasSubstr("NaN")));
}

TEST(CsvReader, InfinityRefused) {
  std::string path = CsvFile("a,b\n1,-inf\n");
  EXPECT_THAT(ErrorOf(path, "a", Task::kRegression),
              AllOf(HasSubstr(path + ":2:"), HasSubstr("column 2 ('b')"), HasSubstr("infinite")));
}

TEST(CsvReader, OutOfFloatRangeRefused) {
  std::string path = CsvFile("a,b\n1e39,1\n");
  EXPECT_THAT(ErrorOf(path, "b"), AllOf(HasSubstr(path + ":2:"), HasSubstr("32-bit float")));
}

TEST(CsvReader, EmptyCellRefused) {
  std::string path = CsvFile("a,b,c\n1,2,3\n4,,6\n");
  EXPECT_THAT(ErrorOf(path, "c"),
              AllOf(HasSubstr(path + ":3:"), HasSubstr("column 2 ('b')"), HasSubstr("empty")));
}

TEST(CsvReader, EmptyLastCellRefused) {
  std::string path = CsvFile("a,b\n1,\n");
  EXPECT_THAT(ErrorOf(path, "a"), AllOf(HasSubstr(path + ":2:"), HasSubstr("empty")));
}

TEST(CsvReader, LineNumbersCountNewlinesInsideQuotes) {
  std::string path = CsvFile("\"a\nb\",c\n1,2\nx,3\n");
  EXPECT_THAT(ErrorOf(path, "c"), AllOf(HasSubstr(path + ":4:"), HasSubstr("\"x\"")));
}

TEST(CsvReader, MissingTargetListsHeader) {
  std::string path = CsvFile("alpha,beta,gamma\n1,2,3\n");
  EXPECT_THAT(ErrorOf(path, "price"),
              AllOf(HasSubstr(path), HasSubstr("'price'"), HasSubstr("alpha, beta, gamma")));
}

TEST(CsvReader, MissingFileNamed) {
  std::string path = "/nonexistent/joule/table.csv";
  EXPECT_THAT(ErrorOf(path, "y"), HasSubstr(path));
}

TEST(CsvReader, EmptyFileRefused) {
  std::string path = CsvFile("");
  EXPECT_THAT(ErrorOf(path, "y"), AllOf(HasSubstr(path), HasSubstr("empty file")));
}

TEST(CsvReader, HeaderOnlyRefused) {
  std::string path = CsvFile("a,y\n");
  EXPECT_THAT(ErrorOf(path, "y"), AllOf(HasSubstr(path), HasSubstr("no data rows")));
}

TEST(CsvReader, TargetOnlyRefused) {
  std::string path = CsvFile("y\n1\n");
  EXPECT_THAT(ErrorOf(path, "y"), AllOf(HasSubstr(path + ":1:"), HasSubstr("feature column")));
}

TEST(CsvReader, DuplicateColumnRefused) {
  std::string path = CsvFile("a,b,a\n1,2,3\n");
  EXPECT_THAT(ErrorOf(path, "b"),
              AllOf(HasSubstr(path + ":1:"), HasSubstr("duplicate"), HasSubstr("columns 1 and 3")));
}

TEST(CsvReader, UnterminatedQuoteRefused) {
  std::string path = CsvFile("a,b\n1,2\n\"3,4\n5,6\n");
  EXPECT_THAT(ErrorOf(path, "b"), AllOf(HasSubstr(path + ":3:"), HasSubstr("unterminated")));
}

TEST(CsvReader, ClassificationTargetMustBeAClassId) {
  std::string fractional = CsvFile("a,y\n1,0\n2,1.5\n");
  EXPECT_THAT(ErrorOf(fractional, "y"),
              AllOf(HasSubstr(fractional + ":3:"), HasSubstr("\"1.5\""), HasSubstr("class id")));
  std::string negative = CsvFile("a,y\n1,-1\n");
  EXPECT_THAT(ErrorOf(negative, "y"), AllOf(HasSubstr(negative + ":2:"), HasSubstr("class id")));
}

TEST(CsvReader, BundledCaliforniaHousingIsARegressionSet) {
  Dataset d = LoadCsv(std::string(JOULE_SOURCE_DATA_DIR) + "/cal-housing/cal_housing.csv",
                      "median_house_value", Task::kRegression);
  ASSERT_EQ(d.x.shape(), (Shape{20640, 8}));
  EXPECT_EQ(d.rows(), 20640);
  EXPECT_THAT(d.feature_names,
              ElementsAre("longitude", "latitude", "housing_median_age", "total_rooms",
                          "total_bedrooms", "population", "households", "median_income"));
  // The file's first data row.
  EXPECT_FLOAT_EQ(d.x.f32()[0], -122.23f);
  EXPECT_FLOAT_EQ(d.x.f32()[7], 8.3252f);
  EXPECT_FLOAT_EQ(d.y.f32()[0], 452600.0f);
  EXPECT_EQ(d.num_classes, 0);
}

}  // namespace
}  // namespace joule
