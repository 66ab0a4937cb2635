// Report: a synthetic run renders to one self-contained HTML file with every plot, the
// metric values and the escaped config; writes are atomic.
//
// Set SPARROW_KEEP_REPORT=DIR to keep the rendered files (for a look in a browser).
#include "report/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "report/svg_plot.h"

namespace sparrow::report {
namespace {

namespace fs = std::filesystem;

size_t Count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* keep = std::getenv("SPARROW_KEEP_REPORT");
    dir_ = keep ? fs::path(keep)
                : fs::temp_directory_path() / ("sparrow_report_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!std::getenv("SPARROW_KEEP_REPORT")) fs::remove_all(dir_);
  }
  fs::path dir_;
};

std::vector<EpochRecord> Epochs(bool poisson) {
  std::vector<EpochRecord> epochs;
  for (int e = 1; e <= 6; ++e) {
    EpochRecord r;
    r.epoch = e;
    r.train_loss = 0.30 + 0.2 / e;
    r.examples_per_s = 2.1e6 + 1e4 * e;
    if (poisson) {
      r.validation["poisson_deviance"] = 0.60 - 0.01 * std::log(e);
    } else {
      r.validation["auc"] = 0.90 - 0.05 / e;
      r.validation["logloss"] = 0.33 + 0.05 / e;
    }
    epochs.push_back(r);
  }
  return epochs;
}

TEST_F(ReportTest, LogisticReportHasEveryPlotMetricAndEscapedConfig) {
  std::mt19937 rng(1);
  std::normal_distribution<double> normal(0, 1.2);
  std::vector<models::Scored> rows;
  for (int i = 0; i < 20000; ++i) {
    const int y = i % 8 == 0;
    rows.push_back({static_cast<float>(normal(rng) - 2.3 + 2.0 * y), float(y), 1.0f, 0.0f});
  }
  ReportInput in;
  in.title = "credit <lr> & friends";
  in.objective = models::Objective::kLogistic;
  in.test = models::ComputeMetrics(in.objective, rows);
  in.epochs = Epochs(false);
  in.config_text = "model { lr {} }\ndata { label: \"<script>alert(1)</script>\" }\n";
  const std::string path = (dir_ / "report_logistic.html").string();
  ASSERT_TRUE(WriteReport(in, path).ok());

  const std::string html = ReadFile(path);
  // Learning curves (2), ROC, calibration, histogram.
  EXPECT_EQ(Count(html, "<svg"), 5u);
  EXPECT_NE(html.find("ROC curve"), std::string::npos);
  EXPECT_NE(html.find("KS "), std::string::npos);
  EXPECT_NE(html.find("Calibration"), std::string::npos);
  EXPECT_NE(html.find("Score distribution by class"), std::string::npos);
  for (double v : {in.test.auc, in.test.logloss, in.test.ks, in.test.accuracy, in.test.ece}) {
    EXPECT_NE(html.find(FormatNumber(v, 6)), std::string::npos) << v;
  }
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // no JavaScript, and nothing injected
  EXPECT_NE(html.find("credit &lt;lr&gt; &amp; friends"), std::string::npos);
  // No external assets: the only URLs are the SVG namespace, one per plot.
  EXPECT_EQ(Count(html, "http"), Count(html, "http://www.w3.org/2000/svg"));
  // The temporary file was renamed, not left behind.
  for (const auto& entry : fs::directory_iterator(dir_)) {
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
}

TEST_F(ReportTest, PoissonReportShowsDecilesAndDeviances) {
  std::mt19937 rng(2);
  std::uniform_real_distribution<double> u(0.1, 1.0);
  std::vector<models::Scored> rows;
  for (int i = 0; i < 5000; ++i) {
    const double exposure = u(rng), freq = 0.02 + 0.2 * u(rng) * u(rng);
    std::poisson_distribution<int> claims(freq * exposure);
    rows.push_back({static_cast<float>(std::log(freq * exposure)), float(claims(rng)), 1.0f,
                    static_cast<float>(std::log(exposure))});
  }
  ReportInput in;
  in.title = "fremtpl poisson";
  in.objective = models::Objective::kPoisson;
  in.test = models::ComputeMetrics(in.objective, rows);
  in.epochs = Epochs(true);
  in.config_text = "model { lr {} objective: POISSON }";
  const std::string path = (dir_ / "report_poisson.html").string();
  ASSERT_TRUE(WriteReport(in, path).ok());
  const std::string html = ReadFile(path);
  EXPECT_EQ(Count(html, "<svg"), 4u);  // learning curves (2), by decile, calibration by decile
  EXPECT_NE(html.find("by decile"), std::string::npos);
  EXPECT_NE(html.find(FormatNumber(in.test.poisson_deviance, 6)), std::string::npos);
  EXPECT_NE(html.find(FormatNumber(in.test.poisson_deviance_null, 6)), std::string::npos);
  EXPECT_EQ(html.find("ROC"), std::string::npos);
}

TEST_F(ReportTest, WithoutEpochsAndUnwritablePath) {
  ReportInput in;
  in.title = "empty";
  in.objective = models::Objective::kSquared;
  in.test = models::ComputeMetrics(in.objective, {});
  const std::string html = RenderReport(in);
  EXPECT_NE(html.find("No per-epoch records"), std::string::npos);
  EXPECT_NE(html.find("n/a"), std::string::npos);
  const Status st = WriteReport(in, (dir_ / "no_such_dir" / "report.html").string());
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no_such_dir"), std::string::npos) << st.message();
}

TEST(SvgPlotTest, TicksLabelsAndEscaping) {
  SvgPlot plot("a < b", "x", "y");
  plot.SetXRange(0, 1);
  plot.AddSeries("s & t", "#000", {{0, 0}, {0.5, 2}, {1, NAN}});
  const std::string svg = plot.Render();
  EXPECT_NE(svg.find("a &lt; b"), std::string::npos);
  EXPECT_NE(svg.find("s &amp; t"), std::string::npos);
  EXPECT_NE(svg.find(">0.2<"), std::string::npos);  // x ticks every 0.2
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  EXPECT_EQ(FormatNumber(NAN), "n/a");
  EXPECT_EQ(FormatNumber(0.123456789, 4), "0.1235");
}

}  // namespace
}  // namespace sparrow::report
