// A report document as one self-contained HTML page: inline CSS and SVG, no
// script, no network. Estimated figures carry a visible "est." mark, a
// colour and the method as their title.
#include <sstream>

#include "report/document.hpp"
#include "report/svg_chart.hpp"

namespace joule::report_internal {
namespace {

// Escaped text with **strong** spans as <strong>.
std::string Inline(const std::string& text) {
  std::string escaped = XmlEscape(text);
  std::string out;
  bool open = false;
  for (std::size_t i = 0; i < escaped.size(); ++i) {
    if (escaped.compare(i, 2, "**") == 0) {
      out += open ? "</strong>" : "<strong>";
      open = !open;
      ++i;
    } else {
      out += escaped[i];
    }
  }
  if (open) out += "</strong>";
  return out;
}

std::string CellHtml(const Cell& c, bool header_column) {
  std::string classes;
  if (c.numeric) classes += " num";
  if (!c.estimated.empty()) classes += " est";
  std::string out = header_column ? "<th scope=\"row\"" : "<td";
  if (!classes.empty()) out += " class=\"" + classes.substr(1) + "\"";
  if (!c.field.empty()) {
    out += " data-field=\"" + XmlEscape(c.field) + "\" data-value=\"" + ExactNum(c.value) + "\"";
  }
  if (!c.estimated.empty()) out += " title=\"estimated: " + XmlEscape(c.estimated) + "\"";
  out += ">";
  std::string text = XmlEscape(c.text);
  out += c.strong ? "<strong>" + text + "</strong>" : text;
  if (!c.estimated.empty()) out += " <span class=\"est-mark\">est.</span>";
  out += header_column ? "</th>" : "</td>";
  return out;
}

void Write(std::ostringstream& out, const std::vector<Paragraph>& paragraphs) {
  bool in_list = false;
  for (const Paragraph& p : paragraphs) {
    if (p.kind == Paragraph::kItem && !in_list) out << "<ul>";
    if (p.kind != Paragraph::kItem && in_list) out << "</ul>";
    in_list = p.kind == Paragraph::kItem;
    switch (p.kind) {
      case Paragraph::kText:
        out << "<p>" << Inline(p.text) << "</p>";
        break;
      case Paragraph::kEstimatedNote:
        out << "<p class=\"estimated-note\">" << Inline(p.text) << "</p>";
        break;
      case Paragraph::kItem:
        out << "<li>" << Inline(p.text) << "</li>";
        break;
    }
  }
  if (in_list) out << "</ul>";
}

void Write(std::ostringstream& out, const Section& s, const char* heading) {
  out << "<" << heading << ">" << XmlEscape(s.title) << "</" << heading << ">";
  Write(out, s.before);
  out << TableHtml(s.table);
  Write(out, s.after);
  for (const Plot& p : s.plots) {
    out << "<figure class=\"plot-" << XmlEscape(p.name) << "\">" << p.svg << "</figure>";
  }
}

}  // namespace

const char* PageCss() {
  return "body{font-family:system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}"
         "main{max-width:1200px;margin:0 auto;padding:16px 24px}"
         "h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:2px solid #ccc}"
         "h3{margin:1.2em 0 .4em}"
         "section.card,section.overview{background:#fff;padding:4px 20px 16px;margin:18px 0;"
         "border-radius:6px;box-shadow:0 1px 3px #0002}"
         "table{border-collapse:collapse;margin:6px 0;display:block;max-width:100%;"
         "overflow-x:auto}table.runs{display:table;width:100%}.nowrap{white-space:nowrap}"
         "th,td{padding:3px 10px;border-bottom:1px solid #e6e6e6;text-align:left;"
         "vertical-align:top}"
         "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
         ".est{background:#fff4e0}.est-mark{color:#a33;font-size:.8em;font-weight:bold}"
         ".estimated-note{border-left:4px solid #c84;background:#fff4e0;padding:6px 10px}"
         "figure{margin:10px 0}svg.plot{max-width:100%;height:auto;border:1px solid #eee}"
         "nav a,form{margin-right:12px}.muted{color:#777}footer{color:#777;margin:24px 0}";
}

std::string TableHtml(const Table& t) {
  if (t.rows.empty()) return "";
  std::ostringstream out;
  out << "<table>";
  if (!t.header.empty()) {
    out << "<thead><tr>";
    for (std::size_t i = 0; i < t.header.size(); ++i) {
      bool numeric = i < t.numeric.size() && t.numeric[i];
      out << "<th" << (numeric ? " class=\"num\"" : "") << ">" << XmlEscape(t.header[i]) << "</th>";
    }
    out << "</tr></thead>";
  }
  out << "<tbody>";
  for (const std::vector<Cell>& row : t.rows) {
    out << "<tr>";
    for (std::size_t i = 0; i < row.size(); ++i) {
      out << CellHtml(row[i], t.header.empty() && i == 0);
    }
    out << "</tr>";
  }
  out << "</tbody></table>";
  return out.str();
}

std::string CardHtml(const Card& card) {
  std::ostringstream out;
  out << "<section class=\"card\" id=\"run-" << XmlEscape(card.run_id) << "\" data-run=\""
      << XmlEscape(card.run_id) << "\"><h2>" << XmlEscape(card.heading) << "</h2>";
  for (const Section& s : card.sections) Write(out, s, "h3");
  out << "</section>";
  return out.str();
}

std::string PageHtml(const std::string& title, const std::string& body) {
  return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<link rel=\"icon\" href=\"data:,\"><title>" +
         XmlEscape(title) + "</title><style>" + PageCss() + "</style></head><body><main>" + body +
         "<footer>Written by joule from its ledger. Each figure says how it was obtained; "
         "figures marked <span class=\"est-mark\">est.</span> come from a power model or a "
         "declared figure, not a sensor.</footer></main></body></html>\n";
}

std::string DocumentBodyHtml(const Document& doc) {
  std::ostringstream out;
  out << "<h1>" << XmlEscape(doc.title) << "</h1>";
  Write(out, doc.intro);
  for (const Section& s : doc.overview) {
    out << "<section class=\"overview\">";
    Write(out, s, "h2");
    out << "</section>";
  }
  for (const Card& card : doc.cards) out << CardHtml(card);
  return out.str();
}

std::string RenderHtml(const Document& doc) { return PageHtml(doc.title, DocumentBodyHtml(doc)); }

}  // namespace joule::report_internal
