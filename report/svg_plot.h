// SvgPlot: a small 2-D line/scatter chart rendered as inline SVG text.
//
// Enough for a training report: linear axes with "nice" ticks, grid lines, axis labels,
// a title, a legend (one row above the frame), and series drawn as lines, dashed lines, markers or
// filled areas. Output is self-contained SVG (no scripts, no external fonts) so the report opens
// anywhere, including from an email attachment.
//
// Ranges default to the data's bounding box (non-finite points are skipped); set them
// explicitly when the axis has a natural range (rates in [0, 1]).
//
// Thread safety: a value type; one thread at a time.
#pragma once

#include <string>
#include <vector>

namespace sparrow::report {

struct Point {
  double x;
  double y;
};

enum class Style {
  kLine,         // solid polyline
  kDashed,       // dashed polyline (references such as the diagonal)
  kMarkers,      // circles only
  kLineMarkers,  // polyline with a circle at each point
  kArea,         // polyline filled down to the x axis, translucent (histograms)
};

class SvgPlot {
 public:
  SvgPlot(std::string title, std::string x_label, std::string y_label);

  void SetXRange(double lo, double hi);
  void SetYRange(double lo, double hi);

  // A series named `name` (empty: not in the legend) in CSS colour `color`.
  void AddSeries(std::string name, std::string color, std::vector<Point> points,
                 Style style = Style::kLine);

  // A labelled marker, e.g. the KS point on a ROC curve. The text goes below the marker,
  // toward the middle of the plot (below a ROC curve is empty).
  void AddLabel(Point at, std::string text, std::string color);

  // The <svg> element, width x height pixels.
  std::string Render(int width = 540, int height = 360) const;

 private:
  struct Series {
    std::string name;
    std::string color;
    std::vector<Point> points;
    Style style;
  };
  struct Label {
    Point at;
    std::string text;
    std::string color;
  };
  struct Range {
    double lo;
    double hi;
  };
  Range DataRange(bool x) const;

  std::string title_, x_label_, y_label_;
  bool has_x_range_ = false, has_y_range_ = false;
  Range x_range_{0, 1}, y_range_{0, 1};
  std::vector<Series> series_;
  std::vector<Label> labels_;
};

// Escapes &, <, >, " and ' for HTML text and attribute values.
std::string HtmlEscape(const std::string& text);

// A number with `digits` significant digits ("%.*g"); "n/a" for NaN or infinity.
std::string FormatNumber(double value, int digits = 4);

}  // namespace sparrow::report
