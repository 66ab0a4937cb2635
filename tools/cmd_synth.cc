// `sparrow synth --kind=credit|ctr|claims --rows=N --seed=S --output=PATH`: synthetic CSV
// from a known model (data/synth.h), its ground truth in PATH.truth and a data spec that
// reads it in PATH.spec. Training can also read the same rows in-process (SynthStream).
#include <cstdio>
#include <string>
#include <vector>

#include "data/synth.h"
#include "tools/command.h"
#include "tools/data_flags.h"

DEFINE_string(kind, "credit", "synth: credit (LR), ctr (FM) or claims (Poisson with exposure)");
DEFINE_uint64(rows, 100000, "synth: rows to generate");

namespace sparrow::tools {
namespace {

int RunSynth(const std::vector<std::string>& args) {
  if (FLAGS_output.empty() || !args.empty()) {
    std::fprintf(stderr,
                 "usage: sparrow synth --kind=credit|ctr|claims --rows=N --seed=S --output=PATH\n");
    return 2;
  }
  auto model = data::SynthModel::Create(FLAGS_kind, FLAGS_seed);
  if (!model.ok()) {
    std::fprintf(stderr, "sparrow synth: %s\n", model.status().message().c_str());
    return 2;
  }
  Status st = data::WriteSynth(**model, FLAGS_rows, FLAGS_output);
  if (!st.ok()) {
    std::fprintf(stderr, "sparrow synth: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("synth: kind=%s rows=%llu seed=%llu output=%s truth=%s.truth spec=%s.spec\n",
              FLAGS_kind.c_str(), static_cast<unsigned long long>(FLAGS_rows),
              static_cast<unsigned long long>(FLAGS_seed), FLAGS_output.c_str(),
              FLAGS_output.c_str(), FLAGS_output.c_str());
  return 0;
}

}  // namespace

Command SynthCommand() {
  return {"synth",
          "--kind=credit|ctr|claims --rows=N --seed=S --output=PATH",
          "generate data from a known model, with its ground truth beside it",
          {"kind", "rows", "seed", "output"},
          &RunSynth};
}

}  // namespace sparrow::tools
