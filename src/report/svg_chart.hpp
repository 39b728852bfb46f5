// SVG charts for reports: line (step) charts, category bars and scatter
// plots, drawn as self-contained SVG (no script, no external font or link),
// so a page or a Markdown file can carry them as they are. Internal to the
// report layer.
//
// Every chart is an <svg class="plot" data-plot="KIND"> whose drawn marks
// carry a class a reader (or a browser test) can find: "series" polylines,
// "bar" rects, "point" circles, "front" for a Pareto front.
#pragma once

#include <string>
#include <vector>

namespace joule::report_internal {

// Text made safe for XML/HTML element content and attribute values.
std::string XmlEscape(const std::string& text);

// About `count` round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a
// power of ten apart), lo <= hi.
std::vector<double> NiceTicks(double lo, double hi, int count);

// A colour of the chart palette (Okabe-Ito, safe for colour-blind readers).
const char* PaletteColor(int i);

struct LineSeries {
  std::string name;  // the legend's text
  std::vector<double> x, y;
  int color = 0;  // palette index
};

struct ChartText {
  std::string kind;      // data-plot: "power", "epochs", "carbon", "pareto"
  std::string title;     // drawn at the top, and the <title> for readers
  std::string subtitle;  // how the figures were obtained; "" for none
  std::string x_label, y_label;
};

// Lines through the points of each series (drawn as given: a step chart is
// a series with two points per step), with axes from the data's range (y
// from 0) and a legend when there are several series.
std::string LineChart(const ChartText& text, const std::vector<LineSeries>& series);

struct Bar {
  std::string label;    // under the bar
  double value = 0;     // >= 0
  std::string tooltip;  // the bar's <title>
  int color = 0;
};

// One bar per category, from 0 up.
std::string BarChart(const ChartText& text, const std::vector<Bar>& bars);

struct ScatterPoint {
  double x = 0, y = 0;
  std::string label;    // drawn beside the point
  std::string tooltip;  // the point's <title>
  bool front = false;   // on the Pareto front: filled, and joined by the front's line
};

// Points, with the front's points joined in order of x.
std::string ScatterChart(const ChartText& text, const std::vector<ScatterPoint>& points);

// A chart frame that says why there is nothing to draw ("no samples recorded").
std::string EmptyChart(const ChartText& text, const std::string& message);

}  // namespace joule::report_internal
