#include "transport/message.h"

#include <cstring>

namespace sparrow::transport {
namespace {

struct Holder {
  std::shared_ptr<const void> owner;
};

void ReleaseHolder(void* /*data*/, void* hint) {
  delete static_cast<Holder*>(hint);
}

bool Aligned(const void* p, size_t a) {
  return reinterpret_cast<uintptr_t>(p) % a == 0;
}

}  // namespace

std::span<const uint64_t> Message::keys() const {
  if (frames.empty()) return {};
  const auto& f = frames[0];
  return {static_cast<const uint64_t*>(f.data()), f.size() / sizeof(uint64_t)};
}

std::span<const float> Message::values() const {
  if (frames.size() < 2) return {};
  const auto& f = frames[1];
  return {static_cast<const float*>(f.data()), f.size() / sizeof(float)};
}

void Message::AlignFrames() {
  for (auto& f : frames) {
    if (f.size() == 0 || Aligned(f.data(), alignof(uint64_t))) continue;
    std::shared_ptr<uint64_t[]> copy(new uint64_t[(f.size() + 7) / 8]);
    std::memcpy(copy.get(), f.data(), f.size());
    f = ZeroCopyFrame(copy, copy.get(), f.size());
  }
}

zmq::message_t ZeroCopyFrame(std::shared_ptr<const void> owner, const void* data, size_t size) {
  if (size == 0) return zmq::message_t();
  auto* holder = new Holder{std::move(owner)};
  return zmq::message_t(const_cast<void*>(data), size, &ReleaseHolder, holder);
}

zmq::message_t CopyFrame(const void* data, size_t size) {
  return zmq::message_t(data, size);
}

Status ValidateDataFrames(const Message& msg, uint64_t key_begin, uint64_t key_end) {
  const wire::Header& h = msg.header;
  const bool has_values = h.command() == wire::PUSH || h.command() == wire::PULL_REPLY;
  const size_t want_frames = has_values ? 2 : 1;
  if (h.num_keys() == 0) {
    // An empty request carries no data frames at all.
    if (!msg.frames.empty() && msg.frames[0].size() != 0) {
      return InvalidArgument("header says 0 keys but a keys frame of " +
                             std::to_string(msg.frames[0].size()) + " bytes follows");
    }
    return Status::Ok();
  }
  if (msg.frames.size() != want_frames) {
    return InvalidArgument(std::string(CommandName(h.command())) + " needs " +
                           std::to_string(want_frames) + " data frame(s), got " +
                           std::to_string(msg.frames.size()));
  }
  const auto& kf = msg.frames[0];
  if (kf.size() != h.num_keys() * sizeof(uint64_t)) {
    return InvalidArgument("keys frame has " + std::to_string(kf.size()) + " bytes; header says " +
                           std::to_string(h.num_keys()) + " keys (" +
                           std::to_string(h.num_keys() * sizeof(uint64_t)) + " bytes)");
  }
  if (!Aligned(kf.data(), alignof(uint64_t))) {
    return InvalidArgument("keys frame is not 8-byte aligned");
  }
  if (has_values) {
    if (h.value_width() == 0) return InvalidArgument("value_width is 0");
    const uint64_t want = h.num_keys() * h.value_width() * sizeof(float);
    if (msg.frames[1].size() != want) {
      return InvalidArgument("values frame has " + std::to_string(msg.frames[1].size()) +
                             " bytes; expected " + std::to_string(want) + " (" +
                             std::to_string(h.num_keys()) + " keys x width " +
                             std::to_string(h.value_width()) + " x 4)");
    }
    if (!Aligned(msg.frames[1].data(), alignof(float))) {
      return InvalidArgument("values frame is not 4-byte aligned");
    }
  }
  const uint64_t* k = static_cast<const uint64_t*>(kf.data());
  const size_t n = h.num_keys();
  if (k[0] < key_begin || k[n - 1] > key_end) {
    return InvalidArgument("key outside this server's range [" + std::to_string(key_begin) + ", " +
                           std::to_string(key_end) + "]");
  }
  for (size_t i = 1; i < n; ++i) {
    if (k[i] <= k[i - 1]) {
      return InvalidArgument("keys not sorted and unique at index " + std::to_string(i) + " (" +
                             std::to_string(k[i - 1]) + " then " + std::to_string(k[i]) + ")");
    }
  }
  return Status::Ok();
}

zmq::message_t EncodeHeader(wire::Header& header) {
  header.set_version(kWireVersion);
  const size_t n = header.ByteSizeLong();
  zmq::message_t frame(n);
  header.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(frame.data()));
  return frame;
}

Status DecodeHeader(const zmq::message_t& frame, wire::Header* header) {
  if (!header->ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
    return InvalidArgument("frame 0 is not a Sparrow header (" + std::to_string(frame.size()) +
                           " bytes that do not parse)");
  }
  if (header->version() != kWireVersion) {
    return InvalidArgument("peer speaks wire version " + std::to_string(header->version()) +
                           ", this node speaks " + std::to_string(kWireVersion));
  }
  return Status::Ok();
}

const char* CommandName(wire::Command c) {
  const std::string& n = wire::Command_Name(c);
  return n.empty() ? "UNKNOWN" : n.c_str();
}

}  // namespace sparrow::transport
