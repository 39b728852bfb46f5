// CSV reader: a header row of names, then rows of numbers (RFC 4180 quoting).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <string_view>
#include <unordered_map>

#include "joule/data.hpp"

namespace joule {
namespace {

// Class ids must stay exact in f32 and keep the output layer a sane size.
constexpr double kMaxClassId = 65535;
// A missing target's message lists the header's names, up to this many.
constexpr std::size_t kMaxListedNames = 40;

// Splits the text into records of fields, tracking physical line numbers
// (a quoted field may span lines).
class CsvParser {
 public:
  CsvParser(const std::string& path, std::string_view text) : path_(path), text_(text) {
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // UTF-8 byte-order mark
  }

  // Reads the next non-blank record into `fields` (and the line each field
  // starts on into `lines`); returns false at the end of the text.
  bool Next(std::vector<std::string>& fields, std::vector<std::int64_t>& lines) {
    SkipBlankLines();
    if (pos_ >= text_.size()) return false;
    fields.clear();
    lines.clear();
    for (;;) {
      lines.push_back(line_);
      fields.emplace_back();
      std::string& field = fields.back();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ReadQuoted(field);
      } else {
        std::size_t end = text_.find_first_of(",\n", pos_);
        if (end == std::string_view::npos) end = text_.size();
        std::size_t stop = end;
        if (stop > pos_ && text_[stop - 1] == '\r' &&
            (stop == text_.size() || text_[stop] == '\n')) {
          --stop;  // \r\n line ending
        }
        field.assign(text_.substr(pos_, stop - pos_));
        pos_ = end;
      }
      if (pos_ >= text_.size()) return true;
      char c = text_[pos_++];
      if (c == '\n') {
        ++line_;
        return true;
      }
      // c == ',': another field follows (possibly empty, at the end of the line).
    }
  }

 private:
  void SkipBlankLines() {
    for (;;) {
      if (pos_ < text_.size() && text_[pos_] == '\n') {
        ++pos_;
      } else if (text_.substr(pos_, 2) == "\r\n") {
        pos_ += 2;
      } else {
        return;
      }
      ++line_;
    }
  }

  // pos_ is on the opening quote; leaves it on the character after the field.
  void ReadQuoted(std::string& field) {
    const std::int64_t start_line = line_;
    ++pos_;
    for (;;) {
      if (pos_ >= text_.size()) {
        throw Error(path_ + ":" + std::to_string(start_line) +
                    ": unterminated quoted field: a field opened with \" never closes");
      }
      char c = text_[pos_++];
      if (c == '"') {
        if (pos_ < text_.size() && text_[pos_] == '"') {
          field += '"';
          ++pos_;
          continue;
        }
        break;
      }
      if (c == '\n') ++line_;
      field += c;
    }
    // After the closing quote: spaces, then the end of the field.
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
    if (text_.substr(pos_, 2) == "\r\n") ++pos_;
    if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n') {
      throw Error(path_ + ":" + std::to_string(line_) +
                  ": unexpected character after a closing quote; write a quote inside a quoted "
                  "field as \"\"");
    }
  }

  const std::string& path_;
  std::string_view text_;
  std::size_t pos_ = 0;
  std::int64_t line_ = 1;
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Parses a whole cell as a finite number that fits in f32. Returns nullptr on
// success, else what is wrong with the cell (the caller adds file, line and
// column, so the common path builds no strings).
const char* ParseCell(std::string_view raw, float* out) {
  std::string_view s = Trim(raw);
  if (s.empty()) {
    return "is empty; every cell must hold a number (drop or fill in rows with missing values "
           "first)";
  }
  if (s.front() == '+') s.remove_prefix(1);  // from_chars takes '-' only
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec == std::errc::result_out_of_range) return "is out of range for a number";
  if (ec != std::errc() || end != s.data() + s.size()) {
    return "is not a number; every column must be numeric (encode categories as numbers, drop "
           "or fill in missing values)";
  }
  if (!std::isfinite(value)) {
    return "is NaN or infinite; only finite numbers are accepted (a missing value? drop or fill "
           "in that row)";
  }
  if (std::fabs(value) > std::numeric_limits<float>::max()) {
    return "does not fit in a 32-bit float";
  }
  *out = static_cast<float>(value);
  return nullptr;
}

struct Header {
  std::vector<std::string> names;
  std::size_t target = 0;
};

Header ParseHeader(const std::string& path, const std::vector<std::string>& fields,
                   const std::string& target) {
  Header header;
  std::unordered_map<std::string, std::size_t> seen;
  std::string listing;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    std::string name(Trim(fields[i]));
    if (name.empty()) {
      throw Error(path + ":1: column " + std::to_string(i + 1) +
                  " of the header has no name; every column needs a unique name");
    }
    if (auto [it, fresh] = seen.emplace(name, i); !fresh) {
      throw Error(path + ":1: duplicate column name '" + name + "' (columns " +
                  std::to_string(it->second + 1) + " and " + std::to_string(i + 1) + ")");
    }
    if (i < kMaxListedNames) listing += (i == 0 ? "" : ", ") + name;
    header.names.push_back(std::move(name));
  }
  if (fields.size() > kMaxListedNames) {
    listing += ", ... (" + std::to_string(fields.size() - kMaxListedNames) + " more)";
  }
  auto it = seen.find(target);
  if (it == seen.end()) {
    throw Error(path + ":1: no column named '" + target + "' to use as the target; the header's " +
                "columns are: " + listing);
  }
  header.target = it->second;
  if (header.names.size() < 2) {
    throw Error(path + ":1: the only column is the target '" + target +
                "'; a table needs at least one feature column besides it");
  }
  return header;
}

bool IsClassId(float value) {
  return value >= 0 && value == std::floor(value) && value <= kMaxClassId;
}

}  // namespace

Dataset LoadCsv(const std::string& path, const std::string& target, Task task) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw Error(path + ": is a directory; expected a CSV file");
  }
  const std::string text = ReadFile(path);
  CsvParser parser(path, text);
  std::vector<std::string> fields;
  std::vector<std::int64_t> lines;
  if (!parser.Next(fields, lines)) {
    throw Error(path + ": empty file; expected a header row of column names, then rows of numbers");
  }
  Header header = ParseHeader(path, fields, target);
  const std::size_t columns = header.names.size();

  std::vector<float> x, y;
  float max_class = 0;
  while (parser.Next(fields, lines)) {
    if (fields.size() != columns) {
      throw Error(path + ":" + std::to_string(lines.front()) + ": expected " +
                  std::to_string(columns) + " fields (as in the header), found " +
                  std::to_string(fields.size()));
    }
    for (std::size_t c = 0; c < columns; ++c) {
      float value = 0;
      const char* problem = ParseCell(fields[c], &value);
      if (problem == nullptr && c == header.target && task == Task::kClassification &&
          !IsClassId(value)) {
        problem =
            "is not a class id; classification needs integer labels 0, 1, 2, ... up to 65535 "
            "(use the regression task for a continuous target)";
      }
      if (problem != nullptr) {
        std::string cell(Trim(fields[c]));
        throw Error(path + ":" + std::to_string(lines[c]) + ": column " + std::to_string(c + 1) +
                    " ('" + header.names[c] + "')" + (cell.empty() ? "" : ": \"" + cell + "\"") +
                    " " + problem);
      }
      if (c == header.target) {
        if (task == Task::kClassification) max_class = std::max(max_class, value);
        y.push_back(value);
      } else {
        x.push_back(value);
      }
    }
  }
  if (y.empty()) {
    throw Error(path + ": the header has no data rows below it; expected at least one row");
  }

  Dataset data;
  const auto rows = static_cast<std::int64_t>(y.size());
  data.x = Tensor::FromVector({rows, static_cast<std::int64_t>(columns - 1)}, x);
  data.y = Tensor::FromVector({rows}, y);
  data.task = task;
  data.num_classes = task == Task::kClassification ? static_cast<int>(max_class) + 1 : 0;
  for (std::size_t c = 0; c < columns; ++c) {
    if (c != header.target) data.feature_names.push_back(header.names[c]);
  }
  return data;
}

}  // namespace joule
