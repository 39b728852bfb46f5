// A report document as Markdown (GitHub's tables), plots as SVG files beside it.
#include <sstream>

#include "report/document.hpp"

namespace joule::report_internal {
namespace {

// Table cells must not hold a bar or a line break.
std::string Flat(std::string s) {
  for (char& c : s) {
    if (c == '|' || c == '\n' || c == '\r') c = ' ';
  }
  return s;
}

std::string CellText(const Cell& c) {
  std::string text = Flat(c.text);
  if (!c.estimated.empty()) text += " (est.)";
  return c.strong ? "**" + text + "**" : text;
}

void Write(std::ostringstream& out, const Table& t) {
  if (t.rows.empty()) return;
  if (t.header.empty()) {
    out << "| | |\n|---|---|\n";
  } else {
    out << "|";
    for (const std::string& h : t.header) out << " " << Flat(h) << " |";
    out << "\n|";
    for (std::size_t i = 0; i < t.header.size(); ++i) {
      out << (i < t.numeric.size() && t.numeric[i] ? "---:|" : "---|");
    }
    out << "\n";
  }
  for (const std::vector<Cell>& row : t.rows) {
    out << "|";
    for (const Cell& c : row) out << " " << CellText(c) << " |";
    out << "\n";
  }
  out << "\n";
}

void Write(std::ostringstream& out, const std::vector<Paragraph>& paragraphs) {
  for (std::size_t i = 0; i < paragraphs.size(); ++i) {
    const Paragraph& p = paragraphs[i];
    switch (p.kind) {
      case Paragraph::kText:
        out << p.text << "\n\n";
        break;
      case Paragraph::kEstimatedNote:
        out << "> " << p.text << "\n\n";
        break;
      case Paragraph::kItem:
        out << "- " << p.text << "\n";
        if (i + 1 == paragraphs.size() || paragraphs[i + 1].kind != Paragraph::kItem) out << "\n";
        break;
    }
  }
}

void Write(std::ostringstream& out, const Section& s, const std::string& heading,
           const std::string& plot_prefix, std::vector<ReportFile>* files) {
  out << heading << " " << s.title << "\n\n";
  Write(out, s.before);
  Write(out, s.table);
  Write(out, s.after);
  if (files == nullptr) return;
  for (const Plot& p : s.plots) {
    std::string name = plot_prefix + p.name + ".svg";
    files->push_back({name, p.svg});
    out << "![" << s.title << ": " << p.name << "](" << name << ")\n\n";
  }
}

}  // namespace

std::string RenderMarkdown(const Document& doc, const std::string& plot_stem,
                           std::vector<ReportFile>* files) {
  std::ostringstream out;
  if (!doc.title.empty()) out << "# " << doc.title << "\n\n";
  Write(out, doc.intro);
  for (const Section& s : doc.overview) Write(out, s, "##", plot_stem + "-", files);
  for (const Card& card : doc.cards) {
    out << "## " << Flat(card.heading) << "\n\n";
    for (const Section& s : card.sections) {
      Write(out, s, "###", plot_stem + "-" + card.run_id + "-", files);
    }
  }
  return out.str();
}

}  // namespace joule::report_internal
