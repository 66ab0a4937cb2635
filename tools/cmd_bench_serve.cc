// `sparrow bench serve`: starts the daemon as a real process pinned to core 0 and loads it
// from core 1, as ../shared/peers/http_const/run.sh loads the bare libmicrohttpd server,
// so the two can run side by side and be compared as a ratio:
//   HTTP    a connection sweep: for each C in --connections (default 64,256,1024,4096),
//           C keep-alive connections from one thread (bench/http_load.h: closed loop, as
//           wrk -t1 -cC), one record per POST /v1/score, for --seconds; per C the 200s/s,
//           p50/p99/p999 latency of the 200s, 503s (shed), other statuses, errors, the
//           ratio to the first C, and the daemon's resident memory.
//   binary  a built-in ZeroMQ DEALER client, batches of 256 rows, 8 requests in flight;
//           rows/s for raw-column records and for pre-hashed rows.
// One line per C:
//   sweep: connections=<C> ok_per_s=<n> p50_us=<n> p99_us=<n> p999_us=<n> shed=<n>
//          other=<n> errors=<n>   (one line)
// The last line is exactly:
//   serve: http_req_per_s=<n> http_p99_us=<n> binary_rows_per_s=<n>
// with the figures of the first C (200s/s and their p99) and the pre-hashed binary figure
// (raw records are printed above it). Exits 1 when any C saw a status other than 200/503
// or a connection error.
#include <gflags/gflags.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>
#include <zmq.hpp>

#include "bench/http_load.h"
#include "process/child_process.h"
#include "proto/serve.pb.h"
#include "serve/open_files.h"
#include "serve/serving_model.h"
#include "tools/command.h"
#include "tools/serve_commands.h"

DECLARE_string(model);
DECLARE_double(seconds);      // tools/kv_bench_flags.cc
DECLARE_int32(max_queue_ms);  // tools/cmd_serve.cc: passed on to the daemon when set
DEFINE_string(connections, "64,256,1024,4096",
              "bench serve: HTTP keep-alive connections, a comma-separated sweep");
DEFINE_bool(honor_retry_after, true,
            "bench serve: after a 503, wait its Retry-After before sending again on that "
            "connection (false: retry at once, a retry storm)");
DEFINE_string(target, "",
              "bench serve: load this server (127.0.0.1:PORT) with the HTTP sweep instead of "
              "starting the daemon");
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

// "64,256,1024" -> {64, 256, 1024}; empty on a malformed list.
std::vector<int> ParseConnections(const std::string& list) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    const size_t comma = std::min(list.find(',', pos), list.size());
    int n = 0;
    const auto [end, ec] = std::from_chars(list.data() + pos, list.data() + comma, n);
    if (ec != std::errc() || end != list.data() + comma || n < 1) return {};
    out.push_back(n);
    pos = comma + 1;
  }
  return out;
}

// The daemon's resident memory in MiB (0 when unreadable).
double RssMiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == "VmRSS:") {
      double kb = 0;
      in >> kb;
      return kb / 1024;
    }
  }
  return 0;
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

// The HTTP connection sweep against 127.0.0.1:port (the daemon's pid for its RSS; 0: not
// ours). Prints a human line and a `sweep:` line per point; returns false when any point
// saw an answer other than 200/503 or a connection error.
bool RunSweep(uint16_t port, const std::string& record, const std::vector<int>& sweep, pid_t pid,
              double* first_ok, double* first_p99) {
  bench::HttpLoadOptions load;
  load.port = port;
  load.request = bench::PostRequest("/v1/score", "{\"records\":[" + record + "]}");
  load.seconds = FLAGS_seconds;
  load.honor_retry_after = FLAGS_honor_retry_after;
  bool bad = false;
  for (size_t i = 0; i < sweep.size(); ++i) {
    load.connections = sweep[i];
    const bench::HttpLoadResult r = bench::RunHttpLoad(load);
    const double ok = r.ok_per_s();
    const double p50 = static_cast<double>(r.ok_latency.Quantile(0.5));
    const double p99 = static_cast<double>(r.ok_latency.Quantile(0.99));
    const double p999 = static_cast<double>(r.ok_latency.Quantile(0.999));
    if (i == 0) *first_ok = ok, *first_p99 = p99;
    std::printf(
        "http %5d connections: %.0f req/s answered 200 (%.2fx the first), latency p50 %.0f us, "
        "p99 %.0f us, p999 %.0f us; %llu shed (503, p99 %llu us), %llu other, %llu errors, "
        "%d connections answered, %llu in flight at the end; daemon RSS %.0f MiB\n",
        sweep[i], ok, *first_ok > 0 ? ok / *first_ok : 0.0, p50, p99, p999,
        static_cast<unsigned long long>(r.shed),
        static_cast<unsigned long long>(r.shed_latency.Quantile(0.99)),
        static_cast<unsigned long long>(r.other), static_cast<unsigned long long>(r.errors),
        r.answered_connections, static_cast<unsigned long long>(r.unanswered),
        pid > 0 ? RssMiB(pid) : 0.0);
    std::printf(
        "sweep: connections=%d ok_per_s=%.0f p50_us=%.0f p99_us=%.0f p999_us=%.0f shed=%llu "
        "other=%llu errors=%llu\n",
        sweep[i], ok, p50, p99, p999, static_cast<unsigned long long>(r.shed),
        static_cast<unsigned long long>(r.other), static_cast<unsigned long long>(r.errors));
    if (!r.first_error.empty()) std::printf("  first problem: %s\n", r.first_error.c_str());
    std::fflush(stdout);
    bad = bad || r.other > 0 || r.errors > 0;
    // Let the daemon see the closed connections go before the next point connects.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return !bad;
}

int Fail(const std::string& why) {
  std::fprintf(stderr, "sparrow bench serve: %s\n", why.c_str());
  return 1;
}

}  // namespace

int RunBenchServe(const std::vector<std::string>&) {
  if (FLAGS_model.empty()) return Fail("--model is required");
  const std::vector<int> sweep = ParseConnections(FLAGS_connections);
  if (sweep.empty()) return Fail("--connections must be a list of positive counts, e.g. 64,1024");
  if (!(FLAGS_seconds > 0)) return Fail("--seconds must be positive");
  // The client holds every connection of the largest point; the daemon (a child) raises
  // its own limit too.
  const uint64_t files = serve::RaiseOpenFileLimit();
  const int most = *std::max_element(sweep.begin(), sweep.end());
  if (files < static_cast<uint64_t>(most) + 64) {
    return Fail("the open-file limit is " + std::to_string(files) + ", too low for " +
                std::to_string(most) + " connections (raise it with ulimit -n)");
  }
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
  if (!FLAGS_target.empty()) {
    // Another server (the bare libmicrohttpd peer, an older build): the same sweep, no
    // daemon of ours, no binary part, no last line.
    const size_t colon = FLAGS_target.rfind(':');
    if (colon == std::string::npos || FLAGS_target.substr(0, colon) != "127.0.0.1") {
      return Fail("--target must be 127.0.0.1:PORT");
    }
    std::printf("bench serve: target %s, load on core 1\n", FLAGS_target.c_str());
    PinToCore(1);
    double first_ok = 0, first_p99 = 0;
    const auto port = static_cast<uint16_t>(std::atoi(FLAGS_target.c_str() + colon + 1));
    return RunSweep(port, record, sweep, 0, &first_ok, &first_p99) ? 0 : 1;
  }
  char tmpl[] = "/tmp/sparrow_bench_serve.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  process::SpawnOptions opt;
  opt.capture_stdout = true;
  opt.stderr_path = dir + "/serve.log";
  std::vector<std::string> argv = {"/usr/bin/taskset",
                                   "-c",
                                   "0",
                                   SelfExecutable(),
                                   "serve",
                                   "--model=" + FLAGS_model,
                                   "--http=127.0.0.1:0",
                                   "--binary=tcp://127.0.0.1:*",
                                   "--threads=1"};
  if (FLAGS_max_queue_ms >= 0)
    argv.push_back("--max_queue_ms=" + std::to_string(FLAGS_max_queue_ms));
  auto daemon = process::ChildProcess::Spawn(argv, opt);
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

  PinToCore(1);
  const uint16_t port = static_cast<uint16_t>(std::atoi(http.c_str() + http.rfind(':') + 1));
  double first_ok = 0, first_p99 = 0;
  const bool bad = !RunSweep(port, record, sweep, daemon->pid(), &first_ok, &first_p99);

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
  if (bad) return Fail("HTTP answers other than 200/503, or connection errors (above)");
  std::printf("serve: http_req_per_s=%.0f http_p99_us=%.0f binary_rows_per_s=%.0f\n", first_ok,
              first_p99, hashed);
  return 0;
}

}  // namespace sparrow::tools
