// A report written to disk: the format from the file's extension, plots
// first and the document last, each file atomically.
#include <filesystem>

#include "joule/report.hpp"
#include "joule/util.hpp"

namespace joule {
namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void CheckReportPath(const std::string& path) {
  if (!EndsWith(path, ".html") && !EndsWith(path, ".md")) {
    throw Error(path + ": a report is FILE.html (one page) or FILE.md (Markdown, plots beside it)");
  }
}

std::vector<std::string> WriteReport(const std::string& path, const std::vector<ReportRun>& runs,
                                     const ReportOptions& options) {
  CheckReportPath(path);
  const std::filesystem::path file(path);
  RenderedReport report;
  if (EndsWith(path, ".html")) {
    report.text = ReportHtml(runs, options);
  } else {
    std::string stem = file.filename().string();
    report = ReportMarkdownWithPlots(runs, options, stem.substr(0, stem.rfind('.')));
  }
  // A reader never finds a document whose plots are not there yet.
  std::vector<std::string> written;
  for (const ReportFile& plot : report.files) {
    written.push_back((file.parent_path() / plot.name).string());
    WriteFileAtomic(written.back(), plot.content);
  }
  WriteFileAtomic(path, report.text);
  written.push_back(path);
  return written;
}

}  // namespace joule
