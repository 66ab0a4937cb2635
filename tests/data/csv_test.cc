// CSV with a column spec, and Criteo TSV: the real data sets, transformations, rejections.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include "core/hash.h"
#include "data/bins.h"
#include "tests/data/test_util.h"

namespace sparrow::data {
namespace {

using testing::ReadAll;
using testing::Resolve;
using testing::SpecOf;
using testing::TempDir;

size_t CountKey(const Batch& b, uint64_t key) {
  return std::count(b.keys.begin(), b.keys.end(), key);
}

TEST(CsvTest, GiveMeSomeCreditMatchesReadme) {
  SPARROW_REQUIRE_SHARED(path, "give_me_some_credit/cs-training.csv");
  DataSpec data = SpecOf(R"(
    format: CSV
    train: ")" + path + R"("
    columns {
      label: "SeriousDlqin2yrs"
      ignore: ""
      numeric { name: "age" transform: BUCKETIZE bins: 10 }
      numeric { name: "MonthlyIncome" transform: LOG }
      numeric { name: "DebtRatio" }
      categorical { name: "NumberOfDependents" }
      unlisted: IGNORE
    })");
  FeatureSpec fs = Resolve(data);
  ASSERT_EQ(fs.columns().numeric(0).boundaries_size(), 9);  // ages are varied enough
  Batch b;
  ReadOptions options;
  options.threads = 2;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &b).ok());
  ASSERT_EQ(b.rows(), 150000u);
  size_t positives = 0;
  for (float l : b.labels) positives += l == 1.0f;
  EXPECT_EQ(positives, 10026u);
  // "NA" is missing: its own key, key(name, "").
  EXPECT_EQ(CountKey(b, FeatureKey(0, "MonthlyIncome", "")), 29731u);
  EXPECT_EQ(CountKey(b, FeatureKey(0, "NumberOfDependents", "")), 3924u);
  // Row 1: "1,1,0.766126609,45,2,0.802982129,9120,13,0,6,0,2\r"
  EXPECT_EQ(b.labels[0], 1.0f);
  ASSERT_EQ(b.row_offsets[1], 4u);  // age bucket, income, debt ratio, dependents
  EXPECT_EQ(b.keys[1], FeatureKey(0, "MonthlyIncome", "#"));
  EXPECT_FLOAT_EQ(b.values[1], static_cast<float>(std::log1p(9120.0)));
  EXPECT_EQ(b.values[2], 0.802982129f);
  EXPECT_EQ(b.keys[3], FeatureKey(0, "NumberOfDependents", "2"));  // no '\r' in the value
  EXPECT_EQ(b.fields[0], 0u);
  EXPECT_EQ(b.fields[3], 3u);
  EXPECT_EQ(fs.num_fields(), 4u);
}

TEST(CsvTest, FreMtplExposureOffsetAndColumnSplit) {
  SPARROW_REQUIRE_SHARED(path, "freMTPL2freq/freMTPL2freq.csv");
  const std::string spec = R"(
    train: ")" + path + R"("
    split { column: "IDpol" modulus: 5 test_residues: 0 }
    columns {
      label: "ClaimNb" exposure: "Exposure" ignore: "IDpol"
      categorical { name: "Area" } categorical { name: "VehBrand" }
      categorical { name: "VehGas" } categorical { name: "Region" }
      numeric { name: "VehPower" transform: BUCKETIZE bins: 5 }
      numeric { name: "VehAge" transform: BUCKETIZE boundaries: [1, 5, 10, 20] }
      numeric { name: "DrivAge" transform: BUCKETIZE }
      numeric { name: "BonusMalus" transform: LOG }
      numeric { name: "Density" transform: LOG }
      cross { columns: ["Area", "VehGas"] }
    })";
  DataSpec data = SpecOf(spec);
  FeatureSpec fs = Resolve(data);
  ReadOptions options;
  options.threads = 2;
  Batch all, train, test;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &all).ok());
  ASSERT_EQ(all.rows(), 678013u);
  double claims = 0, exposure = 0;
  for (size_t r = 0; r < all.rows(); ++r) {
    claims += all.labels[r];
    exposure += std::exp(static_cast<double>(all.offsets[r]));
  }
  EXPECT_EQ(claims, 36102);
  EXPECT_NEAR(exposure, 358499.4, 1.0);
  // First row "1,1,0.1,D,5,0,55,50,B12,Regular,1217,R82": the Area x VehGas cross.
  EXPECT_EQ(all.keys[all.row_offsets[1] - 1], FeatureKey(0, "Area^VehGas", "D\x1fRegular"));
  // Numeric columns come first, then categorical, then crosses, each in spec order.
  EXPECT_EQ(all.keys[1], FeatureKey(0, "VehAge", "b0"));  // 0 < 1
  EXPECT_EQ(all.keys[6], FeatureKey(0, "VehBrand", "B12"));
  EXPECT_EQ(all.fields[6], 6u);

  options.part = SplitPart::kTrain;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &train).ok());
  options.part = SplitPart::kTest;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &test).ok());
  EXPECT_EQ(train.rows() + test.rows(), all.rows());
  EXPECT_NEAR(static_cast<double>(test.rows()) / all.rows(), 0.2, 0.01);

  // Binary variant (binarize_label_above: 0): any claim.
  EXPECT_EQ(std::count_if(all.labels.begin(), all.labels.end(), [](float l) { return l > 0; }),
            34060);
}

TEST(CsvTest, BinsAreLearnedOnTheTrainingSplitOnly) {
  TempDir dir;
  std::string text = "id,y,x\n";
  // Test rows (id % 2 == 0) carry huge x; train rows carry 0..99.
  for (int i = 0; i < 200; ++i) {
    text += std::to_string(i) + ",0," + std::to_string(i % 2 == 0 ? 1000000 + i : i / 2) + "\n";
  }
  std::string path = dir.Write("b.csv", text);
  DataSpec data = SpecOf(
      "train: '" + path +
      "' split { column: 'id' modulus: 2 test_residues: 0 }"
      " columns { label: 'y' ignore: 'id' numeric { name: 'x' transform: BUCKETIZE bins: 4 } }");
  FeatureSpec fs = Resolve(data);
  const auto& b = fs.columns().numeric(0).boundaries();
  ASSERT_EQ(b.size(), 3);
  EXPECT_EQ(b[0], 25);
  EXPECT_EQ(b[1], 50);
  EXPECT_EQ(b[2], 75);
  EXPECT_EQ(QuantileBoundaries({1, 1, 1, NAN}, 4), std::vector<double>{1});
}

TEST(CsvTest, RowIndexSplitPartitionsRows) {
  TempDir dir;
  std::string text = "y,c\n";
  for (int i = 0; i < 100; ++i) text += "1," + std::to_string(i) + "\n";
  std::string path = dir.Write("s.csv", text);
  DataSpec data = SpecOf("train: '" + path +
                         "' split { modulus: 4 test_residues: [1, 2] }"
                         " columns { label: 'y' categorical { name: 'c' } }");
  FeatureSpec fs = Resolve(data);
  Batch train, test;
  ReadOptions options;
  options.part = SplitPart::kTrain;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &train).ok());
  options.part = SplitPart::kTest;
  ASSERT_TRUE(ReadAll(data, fs, {path}, options, &test).ok());
  ASSERT_EQ(test.rows(), 50u);
  EXPECT_EQ(train.rows(), 50u);
  EXPECT_EQ(test.keys[0], FeatureKey(0, "c", "1"));  // rows 1, 2, 5, 6, ...
  EXPECT_EQ(test.keys[2], FeatureKey(0, "c", "5"));
  EXPECT_EQ(train.keys[1], FeatureKey(0, "c", "3"));
}

TEST(CsvTest, TalkingDataCrosses) {
  SPARROW_REQUIRE_SHARED(path, "talkingdata/train_sample.csv");
  DataSpec data = SpecOf("train: '" + path + R"('
    columns {
      label: "is_attributed"
      categorical { name: "ip" } categorical { name: "app" } categorical { name: "device" }
      categorical { name: "os" } categorical { name: "channel" }
      cross { columns: ["app", "channel"] } cross { columns: ["ip", "app"] name: "ip_app" }
      ignore: ["click_time", "attributed_time"]
    })");
  FeatureSpec fs = Resolve(data);
  Batch b;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &b).ok());
  ASSERT_EQ(b.rows(), 100000u);
  EXPECT_EQ(std::count(b.labels.begin(), b.labels.end(), 1.0f), 227);
  EXPECT_EQ(b.nnz(), 700000u);
  // "87540,12,1,13,497,2017-11-07 09:30:38,,0"
  EXPECT_EQ(b.keys[5], FeatureKey(0, "app^channel",
                                  "12\x1f"
                                  "497"));
  EXPECT_EQ(b.keys[6], FeatureKey(0, "ip_app",
                                  "87540\x1f"
                                  "12"));
  EXPECT_EQ(b.fields[6], 6u);
}

std::string CriteoSpec(const std::string& path) {
  std::string s = "train: '" + path + "' columns { label: 'Label' ignore: 'Id' ";
  for (int i = 1; i <= 13; ++i) {
    s += "numeric { name: 'I" + std::to_string(i) + "' transform: LOG_SQUARE_CATEGORY } ";
  }
  for (int i = 1; i <= 26; ++i) s += "categorical { name: 'C" + std::to_string(i) + "' } ";
  return s + "}";
}

TEST(CriteoTest, TinyCsvAndTsvAgree) {
  SPARROW_REQUIRE_SHARED(path, "criteo_tiny/train.tiny.csv");
  DataSpec data = SpecOf(CriteoSpec(path));
  FeatureSpec fs = Resolve(data);
  Batch csv;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &csv).ok());
  ASSERT_EQ(csv.rows(), 1999u);
  EXPECT_EQ(std::count(csv.labels.begin(), csv.labels.end(), 1.0f), 418);
  EXPECT_EQ(csv.nnz(), 1999u * 39);
  // Row 1: I1=1 -> "1", I5=1382 -> "L52" (ln(1382)^2 = 52.4), I12 empty -> missing.
  EXPECT_EQ(csv.keys[0], FeatureKey(0, "I1", "1"));
  EXPECT_EQ(csv.keys[4], FeatureKey(0, "I5", "L52"));
  EXPECT_EQ(csv.keys[11], FeatureKey(0, "I12", ""));
  EXPECT_EQ(csv.keys[13], FeatureKey(0, "C1", "68fd1e64"));

  // The same rows as Criteo TSV (label, I1..I13, C1..C26; no header, no Id).
  TempDir dir;
  std::ifstream in(path);
  std::string line, tsv;
  std::getline(in, line);
  while (std::getline(in, line)) {
    line = line.substr(line.find(',') + 1);
    std::replace(line.begin(), line.end(), ',', '\t');
    tsv += line + "\n";
  }
  std::string tsv_path = dir.Write("train.tsv", tsv);
  DataSpec criteo = SpecOf("train: '" + tsv_path + "'");
  FeatureSpec cfs = Resolve(criteo);
  EXPECT_EQ(cfs.format(), CRITEO);
  Batch b;
  ReadOptions options;
  options.threads = 2;
  ASSERT_TRUE(ReadAll(criteo, cfs, {tsv_path}, options, &b).ok());
  EXPECT_EQ(b.labels, csv.labels);
  EXPECT_EQ(b.keys, csv.keys);
  EXPECT_EQ(b.fields, csv.fields);
}

TEST(CriteoTest, UnlabeledTestFile) {
  TempDir dir;
  std::string row = "3";
  for (int i = 1; i < 13; ++i) row += "\t";
  for (int i = 0; i < 26; ++i) row += "\tab";
  std::string path = dir.Write("test.tsv", row + "\n");
  DataSpec data = SpecOf("has_label: false train: '" + path + "'");
  Batch b;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b).ok());
  ASSERT_EQ(b.rows(), 1u);
  EXPECT_EQ(b.labels[0], 0.0f);
  EXPECT_EQ(b.keys[0], FeatureKey(0, "I1", "L1"));  // ln(3)^2 = 1.2
  EXPECT_EQ(b.keys[1], FeatureKey(0, "I2", ""));
  EXPECT_EQ(b.keys[13], FeatureKey(0, "C1", "ab"));
  // The same row with a label column is one field too many.
  std::string bad = dir.Write("bad.tsv", "0\t" + row + "\n");
  EXPECT_EQ(ReadAll(data, Resolve(data), {bad}, {}, &b).message(),
            bad + ":1: expected 39 fields, got 40");
}

TEST(CsvTest, QuotesMissingAndCrlf) {
  TempDir dir;
  std::string path = dir.Write(
      "q.csv", "y,\"name, full\",city\r\n1,\"Smith, J\",\"say \"\"hi\"\"\"\r\n0,NA,\r\n0,?,x\r\n");
  DataSpec data =
      SpecOf("train: '" + path +
             "' columns { label: 'y' missing: ['NA', '?'] categorical { name: 'name, full' } "
             "categorical { name: 'city' } }");
  FeatureSpec fs = Resolve(data);
  Batch b;
  ASSERT_TRUE(ReadAll(data, fs, {path}, {}, &b).ok());
  ASSERT_EQ(b.rows(), 3u);
  EXPECT_EQ(b.keys[0], FeatureKey(0, "name, full", "Smith, J"));
  EXPECT_EQ(b.keys[1], FeatureKey(0, "city", "say \"hi\""));
  EXPECT_EQ(b.keys[2], FeatureKey(0, "name, full", ""));
  EXPECT_EQ(b.keys[3], FeatureKey(0, "city", ""));
  EXPECT_EQ(b.keys[4], FeatureKey(0, "name, full", ""));
}

TEST(CsvTest, RejectsBadRows) {
  struct Case {
    const char* row;
    const char* reason;
  } cases[] = {
      {"1,2", "expected 3 fields, got 2"},
      {"1,2,3,4", "expected 3 fields, got 4"},
      {"1,abc,x", "column 'n': not a number: 'abc'"},
      {"NA,1,x", "label 'y' is missing"},
      {"yes,1,x", "label 'y' not parseable: 'yes'"},
      {"1,1,\"x", "unterminated quote (line breaks inside quotes are not supported)"},
      {"1,1,\"x\"y", "bad quoting: text after a closing quote"},
      {"1,1e400,x", "column 'n': not a number: '1e400'"},
  };
  for (const Case& c : cases) {
    TempDir dir;
    std::string path = dir.Write("r.csv", std::string("y,n,c\n1,2,a\n") + c.row + "\n");
    DataSpec data =
        SpecOf("train: '" + path +
               "' columns { label: 'y' numeric { name: 'n' } categorical { name: 'c' } }");
    Batch b;
    Status st = ReadAll(data, Resolve(data), {path}, {}, &b);
    EXPECT_EQ(st.message(), path + ":3: " + c.reason) << c.row;
  }
}

TEST(CsvTest, SpecErrorsNameTheField) {
  TempDir dir;
  std::string path = dir.Write("h.csv", "y,a,b,b2\n1,2,3,4\n");
  auto error = [&](const std::string& cols) {
    Result<FeatureSpec> fs =
        ResolveFeatureSpec(SpecOf("train: '" + path + "' columns { " + cols + " }"));
    return fs.ok() ? std::string("ok") : fs.status().message();
  };
  EXPECT_EQ(error("label: 'y' categorical { name: 'zz' } unlisted: IGNORE"),
            "columns: categorical column 'zz' is not in the header of " + path);
  EXPECT_EQ(error("label: 'y' categorical { name: 'a' }"),
            "columns: " + path +
                " has columns the spec does not name: 'b', 'b2'"
                " (list them, add them to `ignore`, or set `unlisted: IGNORE`)");
  EXPECT_EQ(error("label: 'a' categorical { name: 'a' } unlisted: IGNORE"),
            "columns: column 'a' is both label and categorical");
  EXPECT_EQ(
      error("label: 'y' numeric { name: 'a' } cross { columns: ['a', 'b'] } unlisted: IGNORE"),
      path +
          ": columns.cross: column 'a' is a RAW/LOG numeric; cross categorical or "
          "bucketized columns");
  Result<DataSpec> bad = ParseDataSpec("columns { lable: 'y' }", "x.conf");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("x.conf:1:"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("lable"), std::string::npos);
}

TEST(CsvTest, ExposureAndWeight) {
  TempDir dir;
  std::string path = dir.Write("e.csv", "n,exp,w\n2,0.5,3\n0,0,1\n");
  DataSpec data = SpecOf("max_bad_lines: 1 train: '" + path +
                         "' columns { label: 'n' exposure: 'exp' weight: 'w' }");
  Batch b;
  ReadStats stats;
  ASSERT_TRUE(ReadAll(data, Resolve(data), {path}, {}, &b, &stats).ok());
  ASSERT_EQ(b.rows(), 1u);
  EXPECT_FLOAT_EQ(b.offsets[0], std::log(0.5f));
  EXPECT_EQ(b.weights[0], 3.0f);
  EXPECT_EQ(stats.first_bad, path + ":3: exposure 'exp' must be a number > 0, not '0'");
}

}  // namespace
}  // namespace sparrow::data
