#include "checkpoint/checkpoint.h"

#include <glog/logging.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/atomic_file.h"
#include "core/crc32c.h"
#include "model_file/model_file.h"

namespace sparrow::checkpoint {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[8] = {'S', 'P', 'R', 'W', 'C', 'K', 'P', 'T'};
constexpr char kManifest[] = "MANIFEST";
constexpr char kEpochPrefix[] = "epoch-";

void PutU32(std::string* out, uint32_t v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

uint32_t GetU32(const std::string& in, size_t at) {
  uint32_t v;
  std::memcpy(&v, in.data() + at, sizeof(v));
  return v;
}

// Epoch numbers of the directories under Root(run_dir), newest first.
std::vector<uint32_t> Epochs(const std::string& run_dir) {
  std::vector<uint32_t> epochs;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(Root(run_dir), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kEpochPrefix, 0) != 0 || !e.is_directory()) continue;
    const std::string digits = name.substr(std::strlen(kEpochPrefix));
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    epochs.push_back(static_cast<uint32_t>(std::stoul(digits)));
  }
  std::sort(epochs.rbegin(), epochs.rend());
  return epochs;
}

}  // namespace

std::string Root(const std::string& run_dir) {
  return run_dir + "/checkpoints";
}

std::string EpochDir(const std::string& run_dir, uint32_t epoch) {
  char name[32];
  std::snprintf(name, sizeof(name), "%s%06u", kEpochPrefix, epoch);
  return Root(run_dir) + "/" + name;
}

std::string ServerPart(const std::string& dir, int rank) {
  return dir + "/server-" + std::to_string(rank) + ".ckpt";
}

Status WriteManifest(const std::string& dir, int servers, Manifest m) {
  m.set_format_version(kFormatVersion);
  m.set_servers(static_cast<uint32_t>(servers));
  m.set_created_unix_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  m.clear_files();
  for (int r = 0; r < servers; ++r) {
    const std::string path = ServerPart(dir, r);
    std::error_code ec;
    const uintmax_t bytes = fs::file_size(path, ec);
    if (ec) return DataLoss(path + ": missing from the checkpoint (" + ec.message() + ")");
    CheckpointFile* f = m.add_files();
    f->set_name(fs::path(path).filename().string());
    f->set_bytes(bytes);
  }
  // magic | u32 version | u32 length | manifest | u32 CRC32C of version..manifest
  const std::string body = m.SerializeAsString();
  std::string out(kMagic, sizeof(kMagic));
  PutU32(&out, kFormatVersion);
  PutU32(&out, static_cast<uint32_t>(body.size()));
  out += body;
  PutU32(&out, Crc32c(out.data() + sizeof(kMagic), out.size() - sizeof(kMagic)));
  return WriteFileAtomically(dir + "/" + kManifest, out);
}

Result<Manifest> ReadManifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifest;
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(path + ": no manifest (the checkpoint was not completed)");
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t head = sizeof(kMagic) + 8;
  if (bytes.size() < head + 4 || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return DataLoss(path + ": not a checkpoint manifest, or truncated");
  }
  if (GetU32(bytes, sizeof(kMagic)) != kFormatVersion) {
    return DataLoss(path + ": manifest format " + std::to_string(GetU32(bytes, sizeof(kMagic))) +
                    ", this build reads " + std::to_string(kFormatVersion));
  }
  const uint32_t length = GetU32(bytes, sizeof(kMagic) + 4);
  if (bytes.size() != head + length + 4) return DataLoss(path + ": truncated manifest");
  const uint32_t crc = Crc32c(bytes.data() + sizeof(kMagic), 8 + length);
  if (crc != GetU32(bytes, head + length)) return DataLoss(path + ": manifest CRC mismatch");
  Manifest m;
  if (!m.ParseFromArray(bytes.data() + head, static_cast<int>(length))) {
    return DataLoss(path + ": unreadable manifest");
  }
  return m;
}

Status Verify(const std::string& dir, const Manifest& m) {
  if (m.files_size() != static_cast<int>(m.servers())) {
    return DataLoss(dir + ": the manifest lists " + std::to_string(m.files_size()) +
                    " part(s) for " + std::to_string(m.servers()) + " server(s)");
  }
  for (const CheckpointFile& f : m.files()) {
    const std::string path = dir + "/" + f.name();
    std::error_code ec;
    const uintmax_t bytes = fs::file_size(path, ec);
    if (ec) return DataLoss(path + ": missing (" + ec.message() + ")");
    if (bytes != f.bytes()) {
      return DataLoss(path + ": " + std::to_string(bytes) + " bytes, the manifest says " +
                      std::to_string(f.bytes()));
    }
    // A whole pass: every row read, the CRC checked at the end.
    SPARROW_ASSIGN_OR_RETURN(auto reader, model_file::ModelReader::Open(path));
    std::vector<uint64_t> keys;
    std::vector<float> rows;
    for (int t = 0; t < reader->header().tables_size(); ++t) {
      for (;;) {
        SPARROW_ASSIGN_OR_RETURN(size_t n, reader->Next(65536, &keys, &rows));
        if (n == 0) break;
      }
    }
    SPARROW_RETURN_IF_ERROR(reader->Finish());
  }
  return Status::Ok();
}

Result<Found> FindNewest(const std::string& run_dir) {
  Found found;
  for (uint32_t epoch : Epochs(run_dir)) {
    const std::string dir = EpochDir(run_dir, epoch);
    auto m = ReadManifest(dir);
    Status st = m.ok() ? Verify(dir, *m) : m.status();
    if (st.ok() && m->epoch() != epoch) {
      st = DataLoss(dir + ": its manifest says epoch " + std::to_string(m->epoch()));
    }
    if (st.ok()) {
      found.dir = dir;
      found.manifest = std::move(m).value();
      return found;
    }
    found.skipped.push_back(dir + " is not a usable checkpoint: " + st.message());
  }
  std::string why = "no complete checkpoint under " + Root(run_dir);
  for (const auto& s : found.skipped) why += "; " + s;
  return NotFound(why);
}

void Prune(const std::string& run_dir, uint32_t keep) {
  uint32_t complete = 0;
  for (uint32_t epoch : Epochs(run_dir)) {
    const std::string dir = EpochDir(run_dir, epoch);
    const bool ok = ReadManifest(dir).ok();
    if (ok && complete < keep) {
      ++complete;
      continue;
    }
    if (!ok && complete == 0) continue;  // may be one being written now
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) LOG(WARNING) << "cannot delete old checkpoint " << dir << ": " << ec.message();
  }
}

}  // namespace sparrow::checkpoint
