// The data commands as a user runs them: sparrow synth, convert, bench parse.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>

#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::TempDir;

struct CmdResult {
  int exit_code;
  std::string output;  // stdout and stderr
};

CmdResult Sparrow(const std::string& args) {
  std::string cmd = std::string(SPARROW_BINARY) + " " + args + " 2>&1";
  CmdResult r{-1, ""};
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string LastLine(const std::string& s) {
  std::string t = s;
  while (!t.empty() && t.back() == '\n') t.pop_back();
  return t.substr(t.rfind('\n') == std::string::npos ? 0 : t.rfind('\n') + 1);
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(SPARROW_BINARY)) GTEST_SKIP() << SPARROW_BINARY << " not built";
  }
};

TEST_F(CliTest, BenchParsePrintsTheContractLine) {
  SPARROW_REQUIRE_SHARED(path, "a9a/a9a");
  CmdResult r =
      Sparrow("bench parse " + path + " --format=libsvm --threads=1 --bench_seconds=0.05");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // Exactly `parse: mb_per_s=<n> rows_per_s=<n> threads=<n>`. (Not std::regex: GCC 12
  // warns inside it under ASan, and warnings are errors.)
  const std::string last = LastLine(r.output);
  double mb = 0, rows = 0;
  int threads = 0, end = 0;
  ASSERT_EQ(std::sscanf(last.c_str(), "parse: mb_per_s=%lf rows_per_s=%lf threads=%d%n", &mb, &rows,
                        &threads, &end),
            3)
      << r.output;
  EXPECT_EQ(static_cast<size_t>(end), last.size()) << last;
  EXPECT_GT(mb, 0);
  EXPECT_GT(rows, 0);
  EXPECT_EQ(threads, 1);
}

TEST_F(CliTest, BadLinesAreReportedAsFileLineReason) {
  TempDir dir;
  std::string bad = dir.Write("bad.svm", "1 1:1\nnope 2:1\n");
  CmdResult r = Sparrow("bench parse " + bad + " --threads=1 --bench_seconds=0.05");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":2: label not parseable: 'nope'"), std::string::npos) << r.output;
  r = Sparrow("convert " + bad + " --output=" + dir.File("x.spc"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find(bad + ":2: label not parseable: 'nope'"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir.File("x.spc")));
  EXPECT_FALSE(std::filesystem::exists(dir.File("x.spc.tmp")));
}

TEST_F(CliTest, SynthConvertAndBenchTheCache) {
  TempDir dir;
  std::string csv = dir.File("credit.csv");
  CmdResult r = Sparrow("synth --kind=credit --rows=20000 --seed=3 --output=" + csv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(std::filesystem::exists(csv + ".truth"));
  r = Sparrow("convert --spec=" + csv + ".spec --output=" + dir.File("credit.spc"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rows=20000"), std::string::npos) << r.output;
  r = Sparrow("bench parse " + dir.File("credit.spc") + " --format=cache --bench_seconds=0.05");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(LastLine(r.output).find("threads=2"), std::string::npos) << r.output;
  r = Sparrow("synth --kind=nope --output=" + csv);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("unknown kind 'nope'"), std::string::npos);
}

}  // namespace
}  // namespace sparrow::data
