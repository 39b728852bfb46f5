// SVG charts: a frame with title, axes, ticks and legend, and the marks of
// line, bar and scatter charts inside it.
#include "report/svg_chart.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace joule::report_internal {
namespace {

constexpr double kWidth = 640, kHeight = 300;
constexpr double kLeft = 70, kRight = 20, kTop = 48, kBottom = 46;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string TickText(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", std::abs(v) < 1e-12 ? 0.0 : v);
  return buf;
}

// Tick labels with as many decimals as their spacing needs, so that close
// ticks (accuracies 0.9749, 0.9750, ...) do not print alike.
std::vector<std::string> TickLabels(const std::vector<double>& ticks) {
  std::vector<std::string> labels;
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 0;
  double top = 0;
  for (double t : ticks) top = std::max(top, std::abs(t));
  bool fixed = step > 0 && step < 1 && top < 1e4 && step >= 1e-9;
  int decimals = fixed ? static_cast<int>(std::ceil(-std::log10(step) - 1e-9)) : 0;
  if (fixed &&
      std::abs(step * std::pow(10, decimals) - std::round(step * std::pow(10, decimals))) > 1e-6) {
    ++decimals;  // a step of 0.25 needs two decimals, not one
  }
  for (double t : ticks) {
    if (!fixed) {
      labels.push_back(TickText(t));
      continue;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::abs(t) < 1e-12 ? 0.0 : t);
    labels.push_back(buf);
  }
  return labels;
}

// Maps data coordinates to the plot area.
struct Frame {
  double x0, x1, y0, y1;
  double X(double x) const { return kLeft + (x1 > x0 ? (x - x0) / (x1 - x0) : 0.5) * kPlotW; }
  double Y(double y) const { return kTop + kPlotH - (y1 > y0 ? (y - y0) / (y1 - y0) : 0) * kPlotH; }
};

void Open(std::ostringstream& out, const ChartText& text) {
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" data-plot=\""
      << XmlEscape(text.kind) << "\" viewBox=\"0 0 " << kWidth << " " << kHeight << "\" width=\""
      << kWidth << "\" height=\"" << kHeight
      << "\" role=\"img\" font-family=\"sans-serif\" font-size=\"11\">"
      << "<title>" << XmlEscape(text.title) << "</title>"
      << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
      << "<text x=\"" << kLeft << "\" y=\"18\" font-size=\"14\" font-weight=\"bold\">"
      << XmlEscape(text.title) << "</text>";
  if (!text.subtitle.empty()) {
    out << "<text class=\"subtitle\" x=\"" << kLeft << "\" y=\"34\" fill=\"#a33\">"
        << XmlEscape(text.subtitle) << "</text>";
  }
}

// Axes, grid lines, ticks and labels. `x_ticks` false for a category axis
// (its labels are drawn by the bars).
void Axes(std::ostringstream& out, const ChartText& text, const Frame& f, bool x_ticks) {
  std::vector<double> y_ticks = NiceTicks(f.y0, f.y1, 5);
  std::vector<std::string> y_labels = TickLabels(y_ticks);
  for (std::size_t i = 0; i < y_ticks.size(); ++i) {
    double y = f.Y(y_ticks[i]);
    out << "<line x1=\"" << kLeft << "\" x2=\"" << kLeft + kPlotW << "\" y1=\"" << Fmt(y)
        << "\" y2=\"" << Fmt(y) << "\" stroke=\"#e4e4e4\"/>"
        << "<text x=\"" << kLeft - 6 << "\" y=\"" << Fmt(y + 4) << "\" text-anchor=\"end\">"
        << y_labels[i] << "</text>";
  }
  if (x_ticks) {
    std::vector<double> ticks = NiceTicks(f.x0, f.x1, 6);
    std::vector<std::string> labels = TickLabels(ticks);
    for (std::size_t i = 0; i < ticks.size(); ++i) {
      double t = ticks[i];
      double x = f.X(t);
      out << "<line x1=\"" << Fmt(x) << "\" x2=\"" << Fmt(x) << "\" y1=\"" << kTop + kPlotH
          << "\" y2=\"" << kTop + kPlotH + 4 << "\" stroke=\"#555\"/>"
          << "<text x=\"" << Fmt(x) << "\" y=\"" << kTop + kPlotH + 16
          << "\" text-anchor=\"middle\">" << labels[i] << "</text>";
    }
  }
  out << "<path d=\"M" << kLeft << " " << kTop << "V" << kTop + kPlotH << "H" << kLeft + kPlotW
      << "\" fill=\"none\" stroke=\"#555\"/>";
  out << "<text x=\"" << kLeft + kPlotW / 2 << "\" y=\"" << kHeight - 6
      << "\" text-anchor=\"middle\">" << XmlEscape(text.x_label) << "</text>";
  out << "<text transform=\"translate(14 " << kTop + kPlotH / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << XmlEscape(text.y_label) << "</text>";
}

// The upper end of a y axis from 0 that holds `max` with a little room.
double YTop(double max) {
  if (!(max > 0) || !std::isfinite(max)) return 1;
  std::vector<double> ticks = NiceTicks(0, max * 1.05, 5);
  return std::max(ticks.back(), max * 1.05);
}

}  // namespace

std::string XmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        // Control characters other than tab and line breaks are not XML.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += ' ';
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<double> NiceTicks(double lo, double hi, int count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0};
  if (hi < lo) std::swap(lo, hi);
  if (hi == lo) return {lo};
  double raw = (hi - lo) / std::max(1, count);
  double mag = std::pow(10, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(t);
    if (ticks.size() > 50) break;
  }
  if (ticks.empty()) ticks.push_back(lo);
  return ticks;
}

const char* PaletteColor(int i) {
  static const char* const kColors[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                        "#56B4E9", "#D55E00", "#000000", "#F0E442"};
  return kColors[static_cast<unsigned>(i) % 8];
}

std::string LineChart(const ChartText& text, const std::vector<LineSeries>& series) {
  double x0 = INFINITY, x1 = -INFINITY, y1 = 0;
  for (const LineSeries& s : series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (!(x0 <= x1)) return EmptyChart(text, "no points to draw");
  Frame f{x0, x1, 0, YTop(y1)};
  std::ostringstream out;
  Open(out, text);
  Axes(out, text, f, true);
  int k = 0;
  for (const LineSeries& s : series) {
    out << "<polyline class=\"series\" data-series=\"" << XmlEscape(s.name)
        << "\" fill=\"none\" stroke=\"" << PaletteColor(s.color)
        << "\" stroke-width=\"1.5\" points=\"";
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      out << Fmt(f.X(s.x[i])) << "," << Fmt(f.Y(s.y[i])) << " ";
    }
    out << "\"><title>" << XmlEscape(s.name) << "</title></polyline>";
    if (series.size() > 1) {
      // In the top margin, right of the title, while there is room.
      double ly = k < 3 ? 4 + 13 * k : kTop + 6 + 14 * (k - 3);
      out << "<rect x=\"" << kLeft + kPlotW - 150 << "\" y=\"" << ly
          << "\" width=\"10\" height=\"10\""
          << " fill=\"" << PaletteColor(s.color) << "\"/><text x=\"" << kLeft + kPlotW - 136
          << "\" y=\"" << ly + 9 << "\">" << XmlEscape(s.name) << "</text>";
    }
    ++k;
  }
  out << "</svg>";
  return out.str();
}

std::string BarChart(const ChartText& text, const std::vector<Bar>& bars) {
  if (bars.empty()) return EmptyChart(text, "nothing to draw");
  double y1 = 0;
  for (const Bar& b : bars) y1 = std::max(y1, std::isfinite(b.value) ? b.value : 0);
  Frame f{0, 1, 0, YTop(y1)};
  std::ostringstream out;
  Open(out, text);
  Axes(out, text, f, false);
  const double slot = kPlotW / static_cast<double>(bars.size());
  const double width = std::max(1.0, slot * 0.7);
  // Labels of many bars (epochs) are thinned to about 20.
  const std::size_t label_every = std::max<std::size_t>(1, bars.size() / 20);
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const Bar& b = bars[i];
    double v = std::isfinite(b.value) && b.value > 0 ? b.value : 0;
    double x = kLeft + slot * static_cast<double>(i) + (slot - width) / 2;
    double y = f.Y(v);
    out << "<rect class=\"bar\" data-value=\"" << TickText(v) << "\" x=\"" << Fmt(x) << "\" y=\""
        << Fmt(y) << "\" width=\"" << Fmt(width) << "\" height=\"" << Fmt(kTop + kPlotH - y)
        << "\" fill=\"" << PaletteColor(b.color) << "\"><title>"
        << XmlEscape(b.tooltip.empty() ? b.label : b.tooltip) << "</title></rect>";
    if (i % label_every == 0) {
      out << "<text x=\"" << Fmt(x + width / 2) << "\" y=\"" << kTop + kPlotH + 16
          << "\" text-anchor=\"middle\">" << XmlEscape(b.label) << "</text>";
    }
  }
  out << "</svg>";
  return out.str();
}

std::string ScatterChart(const ChartText& text, const std::vector<ScatterPoint>& points) {
  if (points.empty()) return EmptyChart(text, "nothing to draw");
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  for (const ScatterPoint& p : points) {
    x0 = std::min(x0, p.x);
    x1 = std::max(x1, p.x);
    y0 = std::min(y0, p.y);
    y1 = std::max(y1, p.y);
  }
  // Some room around the points, so none sits on an axis.
  double dx = x1 > x0 ? (x1 - x0) * 0.08 : std::max(std::abs(x0) * 0.1, 1e-9);
  double dy = y1 > y0 ? (y1 - y0) * 0.12 : std::max(std::abs(y0) * 0.05, 1e-9);
  Frame f{std::max(0.0, x0 - dx), x1 + dx, y0 - dy, y1 + dy};
  std::ostringstream out;
  Open(out, text);
  Axes(out, text, f, true);
  std::vector<const ScatterPoint*> front;
  for (const ScatterPoint& p : points) {
    if (p.front) front.push_back(&p);
  }
  std::sort(front.begin(), front.end(),
            [](const ScatterPoint* a, const ScatterPoint* b) { return a->x < b->x; });
  if (!front.empty()) {
    out << "<polyline class=\"front\" fill=\"none\" stroke=\"" << PaletteColor(5)
        << "\" stroke-dasharray=\"4 3\" points=\"";
    for (const ScatterPoint* p : front) out << Fmt(f.X(p->x)) << "," << Fmt(f.Y(p->y)) << " ";
    out << "\"><title>Pareto front: no other run is both more accurate and cheaper</title>"
        << "</polyline>";
  }
  for (const ScatterPoint& p : points) {
    out << "<circle class=\"point" << (p.front ? " front" : "") << "\" cx=\"" << Fmt(f.X(p.x))
        << "\" cy=\"" << Fmt(f.Y(p.y)) << "\" r=\"5\" fill=\""
        << (p.front ? PaletteColor(5) : "#fff") << "\" stroke=\"" << PaletteColor(5) << "\"><title>"
        << XmlEscape(p.tooltip) << "</title></circle>"
        << "<text x=\"" << Fmt(f.X(p.x) + 8) << "\" y=\"" << Fmt(f.Y(p.y) - 6) << "\">"
        << XmlEscape(p.label) << "</text>";
  }
  out << "</svg>";
  return out.str();
}

std::string EmptyChart(const ChartText& text, const std::string& message) {
  std::ostringstream out;
  Open(out, text);
  out << "<rect x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\"" << kPlotW << "\" height=\""
      << kPlotH << "\" fill=\"#fafafa\" stroke=\"#ddd\"/>"
      << "<text class=\"empty\" x=\"" << kLeft + kPlotW / 2 << "\" y=\"" << kTop + kPlotH / 2
      << "\" text-anchor=\"middle\" fill=\"#666\">" << XmlEscape(message) << "</text></svg>";
  return out.str();
}

}  // namespace joule::report_internal
