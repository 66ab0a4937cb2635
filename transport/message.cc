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

bool SliceHasValues(const wire::Header& h, size_t i) {
  switch (h.command()) {
    case wire::PULL:
      return false;
    case wire::PUSH_PULL:
      return i < h.num_push_slices();
    default:
      return true;
  }
}

bool SliceHasKeys(const wire::Header& h, size_t /*i*/) {
  return h.command() != wire::PULL_REPLY;
}

size_t Message::ValuesFrame(size_t i) const {
  return header.command() == wire::PULL_REPLY ? i : KeysFrame(i) + 1;
}

size_t Message::KeysFrame(size_t i) const {
  switch (header.command()) {
    case wire::PULL:
      return i;
    case wire::PUSH_PULL: {
      const size_t pushed = header.num_push_slices();
      return i < pushed ? 2 * i : 2 * pushed + (i - pushed);
    }
    default:
      return 2 * i;
  }
}

std::span<const uint64_t> Message::keys(size_t i) const {
  if (!SliceHasKeys(header, i)) return {};
  const auto& f = frames[KeysFrame(i)];
  return {static_cast<const uint64_t*>(f.data()), f.size() / sizeof(uint64_t)};
}

std::span<const float> Message::values(size_t i) const {
  const auto& f = frames[ValuesFrame(i)];
  return {static_cast<const float*>(f.data()), f.size() / sizeof(float)};
}

void Message::AddSlice(uint32_t table, uint32_t width, uint64_t num_keys, zmq::message_t keys,
                       zmq::message_t values) {
  wire::Slice* s = header.add_slices();
  s->set_table(table);
  s->set_value_width(width);
  s->set_num_keys(num_keys);
  const size_t i = static_cast<size_t>(header.slices_size() - 1);
  if (SliceHasKeys(header, i)) frames.push_back(std::move(keys));
  if (SliceHasValues(header, i)) frames.push_back(std::move(values));
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

namespace {

// One slice's frames (values null for a PULL, keys null for a PULL_REPLY); `what` names
// the slice in errors.
Status ValidateSlice(const wire::Slice& sl, const zmq::message_t* kfp, const zmq::message_t* vf,
                     uint64_t key_begin, uint64_t key_end, const std::string& what) {
  const uint64_t n = sl.num_keys();
  if (vf != nullptr) {
    if (sl.value_width() == 0) return InvalidArgument(what + "value_width is 0");
    const uint64_t want = n * sl.value_width() * sizeof(float);
    if (vf->size() != want) {
      return InvalidArgument(what + "values frame has " + std::to_string(vf->size()) +
                             " bytes; expected " + std::to_string(want) + " (" + std::to_string(n) +
                             " keys x width " + std::to_string(sl.value_width()) + " x 4)");
    }
    if (n > 0 && !Aligned(vf->data(), alignof(float))) {
      return InvalidArgument(what + "values frame is not 4-byte aligned");
    }
  }
  if (kfp == nullptr) return Status::Ok();
  const zmq::message_t& kf = *kfp;
  if (kf.size() != n * sizeof(uint64_t)) {
    return InvalidArgument(what + "keys frame has " + std::to_string(kf.size()) +
                           " bytes; header says " + std::to_string(n) + " keys (" +
                           std::to_string(n * sizeof(uint64_t)) + " bytes)");
  }
  if (n > 0 && !Aligned(kf.data(), alignof(uint64_t))) {
    return InvalidArgument(what + "keys frame is not 8-byte aligned");
  }
  if (n == 0) return Status::Ok();
  const uint64_t* k = static_cast<const uint64_t*>(kf.data());
  if (k[0] < key_begin || k[n - 1] > key_end) {
    return InvalidArgument(what + "key outside this server's range [" + std::to_string(key_begin) +
                           ", " + std::to_string(key_end) + "]");
  }
  for (size_t i = 1; i < n; ++i) {
    if (k[i] <= k[i - 1]) {
      return InvalidArgument(what + "keys not sorted and unique at index " + std::to_string(i) +
                             " (" + std::to_string(k[i - 1]) + " then " + std::to_string(k[i]) +
                             ")");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ValidateDataFrames(const Message& msg, uint64_t key_begin, uint64_t key_end) {
  const wire::Header& h = msg.header;
  const int slices = h.slices_size();
  if (slices < 1 || slices > kMaxSlices) {
    return InvalidArgument(std::string(CommandName(h.command())) + " must carry 1 to " +
                           std::to_string(kMaxSlices) + " slices, got " + std::to_string(slices));
  }
  if (h.command() == wire::PUSH_PULL && h.num_push_slices() > static_cast<uint32_t>(slices)) {
    return InvalidArgument("PUSH_PULL says " + std::to_string(h.num_push_slices()) +
                           " pushed slices of " + std::to_string(slices));
  }
  size_t want = 0;
  for (int i = 0; i < slices; ++i)
    want += (SliceHasKeys(h, i) ? 1 : 0) + (SliceHasValues(h, i) ? 1 : 0);
  if (msg.frames.size() != want) {
    return InvalidArgument(std::string(CommandName(h.command())) + " with " +
                           std::to_string(slices) + " slice(s) needs " + std::to_string(want) +
                           " data frame(s), got " + std::to_string(msg.frames.size()));
  }
  for (int i = 0; i < slices; ++i) {
    const std::string what = slices == 1 ? "" : "slice " + std::to_string(i) + ": ";
    SPARROW_RETURN_IF_ERROR(
        ValidateSlice(h.slices(i), SliceHasKeys(h, i) ? &msg.frames[msg.KeysFrame(i)] : nullptr,
                      SliceHasValues(h, i) ? &msg.frames[msg.ValuesFrame(i)] : nullptr, key_begin,
                      key_end, what));
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

Message Message::Make(wire::Command cmd, int sender, int receiver, uint64_t request_id) {
  Message m;
  m.header.set_command(cmd);
  m.header.set_sender(sender);
  m.header.set_receiver(receiver);
  m.header.set_request_id(request_id);
  return m;
}

Message Message::ReplyTo(const wire::Header& request, int self, wire::Command cmd) {
  return Make(cmd, self, request.sender(), request.request_id());
}

Message Message::ErrorReply(const wire::Header& request, int self, const Status& why) {
  Message m = ReplyTo(request, self, wire::ERROR);
  m.header.set_error(why.message());
  m.header.set_error_code(static_cast<int32_t>(why.code()));
  return m;
}

Status ErrorOf(const wire::Header& error_reply, const std::string& who) {
  const int32_t c = error_reply.error_code();
  const bool known =
      c > static_cast<int32_t>(Code::kOk) && c <= static_cast<int32_t>(Code::kUnimplemented);
  return Status(known ? static_cast<Code>(c) : Code::kInvalidArgument,
                who + ": " + error_reply.error());
}

}  // namespace sparrow::transport
