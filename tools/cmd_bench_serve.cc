// `sparrow bench serve`: starts the daemon as a real process pinned to core 0 and loads it
// from core 1, as ../shared/peers/http_const/run.sh loads the bare libmicrohttpd server,
// so the two can run side by side and be compared as a ratio:
//   HTTP    wrk, one thread, C keep-alive connections, one record per POST /v1/score;
//           requests/s and p50/p99/p999 latency (wrk's own histogram).
//   binary  a built-in ZeroMQ DEALER client, batches of 256 rows, 8 requests in flight;
//           rows/s for raw-column records and for pre-hashed rows.
// The last line is exactly:
//   serve: http_req_per_s=<n> http_p99_us=<n> binary_rows_per_s=<n>
// where binary_rows_per_s is the pre-hashed figure (raw records are printed above it).
#include <gflags/gflags.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <zmq.hpp>

#include "cluster/child_process.h"
#include "proto/serve.pb.h"
#include "serve/serving_model.h"
#include "tools/command.h"
#include "tools/serve_commands.h"

DECLARE_string(model);
DECLARE_double(seconds);  // tools/kv_bench_flags.cc
DEFINE_int32(connections, 64, "bench serve: HTTP keep-alive connections");
DEFINE_string(record, "",
              "bench serve: the JSON record to send (default: one made from the model's columns)");

namespace sparrow::tools {
namespace {

constexpr int kBatch = 256;
constexpr int kInFlight = 8;

// The peer's GMSC applicant (../shared/peers/http_const/gmsc_record.lua), so a GMSC model
// is loaded with the very request the bare server answers.
constexpr char kGmscRecord[] =
    R"({"RevolvingUtilizationOfUnsecuredLines":0.766,"age":45,)"
    R"("NumberOfTime30-59DaysPastDueNotWorse":2,"DebtRatio":0.80,"MonthlyIncome":9120,)"
    R"("NumberOfOpenCreditLinesAndLoans":13,"NumberOfTimes90DaysLate":0,)"
    R"("NumberRealEstateLoansOrLines":6,"NumberOfTime60-89DaysPastDueNotWorse":0,)"
    R"("NumberOfDependents":2})";

// One record for the model: the peer's GMSC applicant when the columns match, else a
// value per column (numbers for numeric columns, a short text for categorical ones).
std::string DefaultRecord(const serve::ServingModel& m, serve::Record* proto) {
  if (m.sparse()) {
    std::string s = "{";
    for (int i = 1; i <= 12; ++i) {
      const std::string idx =
          m.ffm() ? std::to_string(i % 4) + ":" + std::to_string(i * 7) : std::to_string(i * 7);
      s += (i > 1 ? ",\"" : "\"") + idx + "\":1";
      serve::Value* v = proto->add_values();
      v->set_name(idx);
      v->set_number(1);
    }
    return s + "}";
  }
  const bool gmsc = m.ColumnIndex("RevolvingUtilizationOfUnsecuredLines") >= 0;
  if (gmsc) {
    const std::pair<const char*, double> kv[] = {{"RevolvingUtilizationOfUnsecuredLines", 0.766},
                                                 {"age", 45},
                                                 {"NumberOfTime30-59DaysPastDueNotWorse", 2},
                                                 {"DebtRatio", 0.80},
                                                 {"MonthlyIncome", 9120},
                                                 {"NumberOfOpenCreditLinesAndLoans", 13},
                                                 {"NumberOfTimes90DaysLate", 0},
                                                 {"NumberRealEstateLoansOrLines", 6},
                                                 {"NumberOfTime60-89DaysPastDueNotWorse", 0},
                                                 {"NumberOfDependents", 2}};
    for (const auto& [name, x] : kv) {
      serve::Value* v = proto->add_values();
      v->set_name(name);
      v->set_number(x);
    }
    return kGmscRecord;
  }
  std::string s = "{";
  for (size_t i = 0; i < m.columns().size(); ++i) {
    const serve::ColumnKind k = m.kind(static_cast<int>(i));
    if (k == serve::ColumnKind::kIgnored) continue;
    serve::Value* v = proto->add_values();
    v->set_name(m.columns()[i]);
    s += (s.size() > 1 ? ",\"" : "\"") + m.columns()[i] + "\":";
    if (k == serve::ColumnKind::kNumber) {
      v->set_number(1.5 + static_cast<double>(i));
      s += std::to_string(1.5 + static_cast<double>(i));
    } else {
      v->set_text("v" + std::to_string(i + 1));
      s += "\"v" + std::to_string(i + 1) + "\"";
    }
  }
  return s + "}";
}

void PinToCore(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  sched_setaffinity(0, sizeof(set), &set);
}

struct WrkResult {
  double req_per_s = 0, p50 = 0, p99 = 0, p999 = 0;
  uint64_t non2xx = 0;
  bool ok = false;
};

WrkResult RunWrk(const std::string& url, const std::string& body, const std::string& dir) {
  const std::string script = dir + "/bench_serve.lua";
  {
    std::ofstream out(script);
    out << "wrk.method = \"POST\"\nwrk.body = [==[" << body << "]==]\n"
        << "wrk.headers[\"Content-Type\"] = \"application/json\"\n"
        << "done = function(summary, latency, requests)\n"
        << "  io.write(string.format(\"BENCH %f %d %d %d %d\\n\", summary.requests / "
           "(summary.duration / 1e6), latency:percentile(50), latency:percentile(99), "
           "latency:percentile(99.9), summary.errors.status))\nend\n";
  }
  cluster::SpawnOptions opt;
  opt.capture_stdout = true;
  auto p = cluster::ChildProcess::Spawn(
      {"/usr/bin/taskset", "-c", "1", "wrk", "-t1", "-c" + std::to_string(FLAGS_connections),
       "-d" + std::to_string(static_cast<int>(FLAGS_seconds)) + "s", "-s", script, url},
      opt);
  WrkResult r;
  if (!p.ok()) return r;
  const std::string out = p->ReadAllStdout();
  p->Wait(-1);
  const size_t at = out.find("BENCH ");
  if (at == std::string::npos) {
    std::fprintf(stderr, "bench serve: wrk said:\n%s\n", out.c_str());
    return r;
  }
  unsigned long long non2xx = 0;
  r.ok = std::sscanf(out.c_str() + at, "BENCH %lf %lf %lf %lf %llu", &r.req_per_s, &r.p50, &r.p99,
                     &r.p999, &non2xx) == 5;
  r.non2xx = non2xx;
  return r;
}

// Rows/s of `request` (kBatch rows) sent with kInFlight outstanding for FLAGS_seconds.
double RunBinary(const std::string& endpoint, const serve::ScoreRequest& request,
                 std::string* error) {
  zmq::context_t ctx(1);
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  const std::string payload = request.SerializeAsString();
  serve::ScoreResponse resp;
  uint64_t rows = 0;
  int in_flight = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(FLAGS_seconds);
  bool sending = true;
  while (sending || in_flight > 0) {
    while (sending && in_flight < kInFlight) {
      s.send(zmq::buffer(payload), zmq::send_flags::none);
      ++in_flight;
    }
    zmq::message_t m;
    if (!s.recv(m)) break;
    --in_flight;
    if (!resp.ParseFromArray(m.data(), static_cast<int>(m.size())) || !resp.error().empty()) {
      *error = resp.error().empty() ? "unparseable response" : resp.error();
      return 0;
    }
    rows += static_cast<uint64_t>(resp.scores_size());
    if (std::chrono::steady_clock::now() >= end) sending = false;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return static_cast<double>(rows) / secs;
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "sparrow bench serve: %s\n", why.c_str());
  return 1;
}

}  // namespace

int RunBenchServe(const std::vector<std::string>&) {
  if (FLAGS_model.empty()) return Fail("--model is required");
  auto model = serve::ServingModel::Load(FLAGS_model, 1);
  if (!model.ok()) return Fail(model.status().message());
  serve::Record proto_record;
  std::string record = DefaultRecord(**model, &proto_record);
  if (!FLAGS_record.empty()) record = FLAGS_record;
  // Pre-hashed rows: the record through the model's own encoder, as a client library would.
  serve::ScoreRequest rows_request, records_request;
  {
    data::Batch one;
    auto enc = (*model)->NewEncoder();
    std::string why;
    if ((*model)->sparse()) {
      std::vector<std::string_view> idx, val;
      for (const auto& v : proto_record.values()) {
        idx.push_back(v.name());
        val.push_back("1");
      }
      why = (*model)->EncodeSparse(idx, val, enc.get(), &one);
    } else {
      std::vector<std::string> text((*model)->columns().size());
      for (const auto& v : proto_record.values()) {
        const int c = (*model)->ColumnIndex(v.name());
        char buf[32];
        text[c] = v.has_text() ? v.text()
                               : std::string(buf, std::to_chars(buf, buf + 32, v.number()).ptr);
      }
      std::vector<std::string_view> fields(text.begin(), text.end());
      why = (*model)->EncodeFields(fields, enc.get(), &one);
    }
    if (!why.empty()) return Fail("cannot encode the bench record: " + why);
    serve::SparseRows* r = rows_request.mutable_rows();
    r->add_row_offsets(0);
    for (int i = 0; i < kBatch; ++i) {
      for (size_t k = 0; k < one.keys.size(); ++k) {
        r->add_keys(one.keys[k]);
        r->add_values(one.values[k]);
        if ((*model)->ffm()) r->add_fields(one.fields[k]);
      }
      r->add_row_offsets(static_cast<uint64_t>(r->keys_size()));
    }
    for (int i = 0; i < kBatch; ++i) *records_request.add_records() = proto_record;
  }
  char tmpl[] = "/tmp/sparrow_bench_serve.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  cluster::SpawnOptions opt;
  opt.capture_stdout = true;
  opt.stderr_path = dir + "/serve.log";
  auto daemon = cluster::ChildProcess::Spawn(
      {"/usr/bin/taskset", "-c", "0", SelfExecutable(), "serve", "--model=" + FLAGS_model,
       "--http=127.0.0.1:0", "--binary=tcp://127.0.0.1:*", "--threads=1"},
      opt);
  if (!daemon.ok()) return Fail(daemon.status().message());
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd pfd{daemon->stdout_fd(), POLLIN, 0};
    if (poll(&pfd, 1, 20000) <= 0)
      return Fail("the daemon did not start; see " + dir + "/serve.log");
    char buf[256];
    const ssize_t k = read(daemon->stdout_fd(), buf, sizeof(buf));
    if (k <= 0) return Fail("the daemon exited; see " + dir + "/serve.log");
    line.append(buf, static_cast<size_t>(k));
  }
  const size_t h = line.find("http="), b = line.find("binary=");
  const std::string http = line.substr(h + 5, line.find(' ', h) - h - 5);
  std::string binary = line.substr(b + 7);
  binary = binary.substr(0, binary.find_first_of(" \n"));
  std::printf("bench serve: model %s (%s), daemon on core 0 (1 HTTP thread), load on core 1\n",
              FLAGS_model.c_str(), (*model)->id().c_str());
  std::printf("request body: {\"records\":[%s]}\n", record.c_str());
  std::fflush(stdout);

  const WrkResult w = RunWrk("http://" + http + "/v1/score", "{\"records\":[" + record + "]}", dir);
  if (!w.ok) return Fail("wrk failed (is it installed?)");
  if (w.non2xx > 0) return Fail(std::to_string(w.non2xx) + " non-2xx HTTP responses");
  std::printf(
      "http: %.0f req/s, latency p50 %.0f us, p99 %.0f us, p999 %.0f us (wrk -t1 -c%d -d%.0fs)\n",
      w.req_per_s, w.p50, w.p99, w.p999, FLAGS_connections, FLAGS_seconds);
  std::fflush(stdout);

  PinToCore(1);
  std::string error;
  const double raw = RunBinary(binary, records_request, &error);
  if (!error.empty()) return Fail("binary (records): " + error);
  const double hashed = RunBinary(binary, rows_request, &error);
  if (!error.empty()) return Fail("binary (rows): " + error);
  std::printf(
      "binary: %.0f rows/s as raw-column records, %.0f rows/s as pre-hashed rows "
      "(batches of %d, %d in flight)\n",
      raw, hashed, kBatch, kInFlight);
  daemon->Signal(SIGTERM);
  const auto code = daemon->Wait(10000);
  std::filesystem::remove_all(dir);
  if (!code || *code != 0) return Fail("the daemon did not exit cleanly after SIGTERM");
  std::printf("serve: http_req_per_s=%.0f http_p99_us=%.0f binary_rows_per_s=%.0f\n", w.req_per_s,
              w.p99, hashed);
  return 0;
}

}  // namespace sparrow::tools
