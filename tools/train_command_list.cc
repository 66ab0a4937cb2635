#include "tools/command_lists.h"
#include "tools/train_commands.h"

namespace sparrow::tools {

std::vector<Command> TrainCommands() {
  return {
      {"train",
       "CONFIG [--out=DIR] [--set field=value ...] [--stage=all|prepare|finish] [--resume]",
       "train a model on a local cluster (or prepare/finish a run an orchestrator places); "
       "writes model.bin, metrics.json, report.html",
       {"out", "stage", "resume"},
       &RunTrain},
      {"bench chaos",
       "CONFIG [--kills=N] [--seed=S] [--out=DIR]",
       "train CONFIG undisturbed, then again while SIGKILLing N random servers or workers; "
       "print what each death cost (recovery time, test metric)",
       {"kills", "seed", "out"},
       &RunBenchChaos},
      {"predict",
       "--model=M --data=FILE[,FILE] [--output=OUT] [--split=all|train|test]",
       "score data with a model: one prediction per line, in input order",
       {"model", "data", "output", "split", "threads"},
       &RunPredict},
      {"eval",
       "--model=M [--data=FILE] [--split=...]",
       "metrics of a model on labelled data (default: its training config's test split)",
       {"model", "data", "split", "threads"},
       &RunEval},
      {"inspect",
       "--model=M [--top=N] [--dump]",
       "print a model's header, its largest weights, or every row",
       {"model", "top", "dump"},
       &RunInspect},
  };
}

}  // namespace sparrow::tools
