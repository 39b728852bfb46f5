// A report as content, before it is Markdown or HTML: sections of tables,
// paragraphs and plots. The cards and the comparison are built once
// (card.cpp); markdown.cpp and html.cpp only render, so the two formats show
// the same figures and mark the same ones as estimated. Internal to the
// report layer.
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "joule/report.hpp"

namespace joule::report_internal {

// A table cell. A figure from the record keeps its exact value and the
// ledger field it shows, which the HTML carries as data attributes.
struct Cell {
  std::string text;
  std::string field;  // "energy_j", "components.cpu.energy_j", ...; "" for none
  double value = std::nan("");
  bool numeric = false;   // right-aligned
  bool strong = false;    // the row that sums the others
  std::string estimated;  // the method of an estimated figure: marked in every view
};

struct Table {
  std::vector<std::string> header;  // empty: a two-column key/value table without header
  std::vector<bool> numeric;        // per column: right-aligned
  std::vector<std::vector<Cell>> rows;
};

// A paragraph; `text` may hold **strong** spans and nothing else of Markdown.
struct Paragraph {
  enum Kind { kText, kEstimatedNote, kItem } kind = kText;
  std::string text;
};

struct Plot {
  std::string name;  // "power", "epochs", "carbon", "pareto": the Markdown file's suffix
  std::string svg;
};

struct Section {
  std::string title;
  std::vector<Paragraph> before;
  Table table;
  std::vector<Paragraph> after;
  std::vector<Plot> plots;
};

struct Card {
  std::string run_id;
  std::string heading;
  std::vector<Section> sections;
};

struct Document {
  std::string title;
  std::vector<Paragraph> intro;
  std::vector<Section> overview;  // the comparison of several runs, with its plot
  std::vector<Card> cards;
};

// The report of `runs` (samples may be empty: the power plot then says so).
// With `plots` false, no SVG is drawn (Markdown on stdout).
Document BuildDocument(const std::vector<ReportRun>& runs, const ReportOptions& options,
                       bool plots);

// Markdown of a document. Plots become links to "<plot_stem>-<id>-<name>.svg"
// appended to `files`; with `files` null they are left out.
std::string RenderMarkdown(const Document& document, const std::string& plot_stem,
                           std::vector<ReportFile>* files);
std::string RenderHtml(const Document& document);

// The card sections of one run, for the dashboard's run page.
Card BuildCard(const ReportRun& run, const ReportOptions& options, bool plots);
// The HTML of one card (a <section>) and the page's style sheet, for pages
// built around cards.
std::string CardHtml(const Card& card);
// A whole page around `body` (which starts with its own <h1>), and the body of
// a document's page.
std::string PageHtml(const std::string& title, const std::string& body);
std::string DocumentBodyHtml(const Document& document);
std::string TableHtml(const Table& table);
const char* PageCss();

// Numbers as reports print them: "%.6g" by default, "-" when not finite.
std::string Num(double v, const char* format = "%.6g");
// "2026-11-29 12:00:00 UTC"; "-" for 0.
std::string UtcTime(double unix_s);
// The shortest text that reads back to exactly `v` (for data-value).
std::string ExactNum(double v);

}  // namespace joule::report_internal
