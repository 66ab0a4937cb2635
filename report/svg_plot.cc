#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace sparrow::report {
namespace {

constexpr int kLeft = 64, kRight = 16, kTitle = 34, kLegendRow = 18, kBottom = 48;

// A tick step of 1, 2 or 5 times a power of ten, giving about `target` intervals.
double NiceStep(double span, int target) {
  const double raw = span / target;
  const double base = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0}) {
    if (m * base >= raw) return m * base;
  }
  return 10 * base;
}

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

const char* DashFor(Style style) {
  return style == Style::kDashed ? " stroke-dasharray=\"6 4\"" : "";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
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
        out += c;
    }
  }
  return out;
}

std::string FormatNumber(double value, int digits) {
  if (!std::isfinite(value)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

SvgPlot::SvgPlot(std::string title, std::string x_label, std::string y_label)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

void SvgPlot::SetXRange(double lo, double hi) {
  has_x_range_ = true;
  x_range_ = {lo, hi};
}

void SvgPlot::SetYRange(double lo, double hi) {
  has_y_range_ = true;
  y_range_ = {lo, hi};
}

void SvgPlot::AddSeries(std::string name, std::string color, std::vector<Point> points,
                        Style style) {
  series_.push_back({std::move(name), std::move(color), std::move(points), style});
}

void SvgPlot::AddLabel(Point at, std::string text, std::string color) {
  labels_.push_back({at, std::move(text), std::move(color)});
}

SvgPlot::Range SvgPlot::DataRange(bool x) const {
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  auto take = [&](Point p) {
    const double v = x ? p.x : p.y;
    if (std::isfinite(p.x) && std::isfinite(p.y)) lo = std::min(lo, v), hi = std::max(hi, v);
  };
  for (const Series& s : series_) {
    for (Point p : s.points) take(p);
  }
  for (const Label& l : labels_) take(l.at);
  if (!std::isfinite(lo)) return {0, 1};
  if (lo == hi)
    return {lo - std::max(0.5, std::abs(lo) * 0.1), hi + std::max(0.5, std::abs(hi) * 0.1)};
  if (!x) {  // a little headroom so lines do not run along the frame
    const double pad = 0.05 * (hi - lo);
    return {lo - pad, hi + pad};
  }
  return {lo, hi};
}

std::string SvgPlot::Render(int width, int height) const {
  const Range xr = has_x_range_ ? x_range_ : DataRange(true);
  const Range yr = has_y_range_ ? y_range_ : DataRange(false);
  bool legend = false;
  for (const Series& ser : series_) legend |= !ser.name.empty();
  const double top = kTitle + (legend ? kLegendRow : 0);
  const double pw = width - kLeft - kRight, ph = height - top - kBottom;
  auto X = [&](double x) { return kLeft + (x - xr.lo) / (xr.hi - xr.lo) * pw; };
  auto Y = [&](double y) { return top + ph - (y - yr.lo) / (yr.hi - yr.lo) * ph; };

  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) +
                  "\" height=\"" + std::to_string(height) + "\" viewBox=\"0 0 " +
                  std::to_string(width) + " " + std::to_string(height) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<text x=\"" + Num(width / 2.0) + "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" " +
       "font-weight=\"bold\">" + HtmlEscape(title_) + "</text>\n";

  // Grid and tick labels.
  const double xstep = NiceStep(xr.hi - xr.lo, 5), ystep = NiceStep(yr.hi - yr.lo, 5);
  for (double t = std::ceil(xr.lo / xstep - 1e-9) * xstep; t <= xr.hi + 1e-9 * xstep; t += xstep) {
    s += "<line x1=\"" + Num(X(t)) + "\" y1=\"" + Num(top) + "\" x2=\"" + Num(X(t)) + "\" y2=\"" +
         Num(top + ph) + "\" stroke=\"#e4e4e4\"/>";
    s += "<text x=\"" + Num(X(t)) + "\" y=\"" + Num(top + ph + 16) + "\" text-anchor=\"middle\">" +
         FormatNumber(std::abs(t) < 1e-12 * xstep ? 0 : t) + "</text>\n";
  }
  for (double t = std::ceil(yr.lo / ystep - 1e-9) * ystep; t <= yr.hi + 1e-9 * ystep; t += ystep) {
    s += "<line x1=\"" + Num(kLeft) + "\" y1=\"" + Num(Y(t)) + "\" x2=\"" + Num(kLeft + pw) +
         "\" y2=\"" + Num(Y(t)) + "\" stroke=\"#e4e4e4\"/>";
    s += "<text x=\"" + Num(kLeft - 6) + "\" y=\"" + Num(Y(t) + 4) + "\" text-anchor=\"end\">" +
         FormatNumber(std::abs(t) < 1e-12 * ystep ? 0 : t) + "</text>\n";
  }
  s += "<rect x=\"" + Num(kLeft) + "\" y=\"" + Num(top) + "\" width=\"" + Num(pw) + "\" height=\"" +
       Num(ph) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  s += "<text x=\"" + Num(kLeft + pw / 2) + "\" y=\"" + Num(height - 10) +
       "\" text-anchor=\"middle\">" + HtmlEscape(x_label_) + "</text>\n";
  s += "<text transform=\"translate(16 " + Num(top + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + HtmlEscape(y_label_) + "</text>\n";

  for (const Series& ser : series_) {
    std::string pts;
    for (Point p : ser.points) {
      if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
      pts += Num(X(p.x)) + "," + Num(Y(p.y)) + " ";
    }
    if (ser.style == Style::kArea && !ser.points.empty()) {
      const double base = Y(std::max(yr.lo, 0.0));
      s += "<polygon points=\"" + Num(X(ser.points.front().x)) + "," + Num(base) + " " + pts +
           Num(X(ser.points.back().x)) + "," + Num(base) + "\" fill=\"" + ser.color +
           "\" fill-opacity=\"0.25\" stroke=\"" + ser.color + "\" stroke-width=\"1.5\"/>\n";
    } else if (ser.style != Style::kMarkers) {
      s += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + ser.color +
           "\" stroke-width=\"2\"" + DashFor(ser.style) + "/>\n";
    }
    if (ser.style == Style::kMarkers || ser.style == Style::kLineMarkers) {
      for (Point p : ser.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        s += "<circle cx=\"" + Num(X(p.x)) + "\" cy=\"" + Num(Y(p.y)) + "\" r=\"3.5\" fill=\"" +
             ser.color + "\"/>";
      }
      s += "\n";
    }
  }
  for (const Label& l : labels_) {
    if (!std::isfinite(l.at.x) || !std::isfinite(l.at.y)) continue;
    const bool right_half = X(l.at.x) > kLeft + pw / 2;
    s += "<circle cx=\"" + Num(X(l.at.x)) + "\" cy=\"" + Num(Y(l.at.y)) +
         "\" r=\"5\" fill=\"none\" stroke=\"" + l.color + "\" stroke-width=\"2\"/>";
    s += "<text x=\"" + Num(X(l.at.x) + (right_half ? -9 : 9)) + "\" y=\"" + Num(Y(l.at.y) + 18) +
         "\" text-anchor=\"" + (right_half ? "end" : "start") + "\" fill=\"" + l.color + "\">" +
         HtmlEscape(l.text) + "</text>\n";
  }

  // Legend: one row above the frame, so it never hides data. Entry width is estimated at
  // about 7 px per character of 12 px text.
  double lx = kLeft;
  for (const Series& ser : series_) {
    if (ser.name.empty()) continue;
    s += "<line x1=\"" + Num(lx) + "\" y1=\"" + Num(top - 12) + "\" x2=\"" + Num(lx + 22) +
         "\" y2=\"" + Num(top - 12) + "\" stroke=\"" + ser.color + "\" stroke-width=\"3\"" +
         DashFor(ser.style) + "/>";
    s += "<text x=\"" + Num(lx + 27) + "\" y=\"" + Num(top - 8) + "\">" + HtmlEscape(ser.name) +
         "</text>\n";
    lx += 27 + 7.0 * ser.name.size() + 16;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace sparrow::report
