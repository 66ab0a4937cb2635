// Message: one ZeroMQ multipart message of the Sparrow wire protocol (proto/wire.proto).
//
// Frame 0 is the Protobuf Header; data frames follow raw (per slice: keys, then values). Received
// frames are kept as the zmq::message_t ZeroMQ filled, so typed views read them in place;
// frames to send reference the caller's buffers (ZeroCopyFrame) so large arrays are never
// copied on the way out.
//
// Thread safety: a Message is a value; one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "core/status.h"
#include "proto/wire.pb.h"

namespace sparrow::transport {

// Peers must speak exactly this version; bump it on any incompatible change of the header
// or of the frame layout. (3: PULL_REPLY no longer echoes keys.)
inline constexpr uint32_t kWireVersion = 3;

// A data message carries at most this many slices (tables): enough for any model, small
// enough that a hostile header cannot make a server loop.
inline constexpr int kMaxSlices = 16;

// The failure an ERROR message carries: its code (InvalidArgument when the peer gave
// none) and its message, prefixed by `who` ("server 1 (node 2 at ...)").
Status ErrorOf(const wire::Header& error_reply, const std::string& who);

// Whether slice i of a message with header h carries a values frame, and a keys frame
// (see wire.proto).
bool SliceHasValues(const wire::Header& h, size_t i);
bool SliceHasKeys(const wire::Header& h, size_t i);

struct Message {
  wire::Header header;
  std::vector<zmq::message_t> frames;  // data frames (frame 1 onward)

  // Views of slice i's data frames. Require ValidateDataFrames() to have succeeded (for
  // received messages) or the frames to have been built by this process, and
  // i < header.slices_size(). Valid while *this lives. A PULL_REPLY has no keys (empty).
  std::span<const uint64_t> keys(size_t i) const;
  std::span<const float> values(size_t i) const;
  // Index into `frames` of slice i's keys frame (its values frame, if any, follows);
  // not for a PULL_REPLY.
  size_t KeysFrame(size_t i) const;
  // Index into `frames` of slice i's values frame; the slice must carry one.
  size_t ValuesFrame(size_t i) const;
  // Appends slice (table, width) with its frames; `keys` is ignored for a PULL_REPLY and
  // `values` for a slice that carries none (set the command, and a PUSH_PULL's
  // num_push_slices, first). The frames are taken as they are (ZeroCopyFrame or CopyFrame).
  void AddSlice(uint32_t table, uint32_t width, uint64_t num_keys, zmq::message_t keys,
                zmq::message_t values = zmq::message_t());

  // A header-only message: `cmd` from node `sender` to node `receiver` with `request_id`
  // (the request's, in a reply). Slices and frames are the caller's to add.
  static Message Make(wire::Command cmd, int sender, int receiver, uint64_t request_id = 0);
  // The reply to `request` from node `self`: `cmd`, back to its sender, its request id.
  static Message ReplyTo(const wire::Header& request, int self, wire::Command cmd);
  // The ERROR reply to `request` from node `self`, carrying `why`'s code and message.
  static Message ErrorReply(const wire::Header& request, int self, const Status& why);

  // Moves any data frame that does not start on an 8-byte boundary into an aligned copy.
  // ZeroMQ hands out small received frames at arbitrary offsets of its batch buffer;
  // large ones (the hot path) are already aligned and are left alone.
  void AlignFrames();
};

// A frame over [data, data+size) owned by `owner`: ZeroMQ sends it without a copy and drops
// the reference to `owner` (on its I/O thread) once the bytes are on the wire.
zmq::message_t ZeroCopyFrame(std::shared_ptr<const void> owner, const void* data, size_t size);

// A frame holding a copy of [data, data+size); for small arrays.
zmq::message_t CopyFrame(const void* data, size_t size);

// Checks the data frames of a PUSH, PULL, PUSH_PULL or PULL_REPLY against the header: 1 to
// kMaxSlices slices, frame count, and for every slice: keys frame length == num_keys * 8,
// values frame length == num_keys * value_width * 4, keys strictly ascending and within
// [key_begin, key_end] (a PULL_REPLY has values frames only). On failure returns InvalidArgument
// with the reason (naming the slice when there are several); the message is left untouched.
Status ValidateDataFrames(const Message& msg, uint64_t key_begin, uint64_t key_end);

// Serialises the header as frame 0. Fills in the version.
zmq::message_t EncodeHeader(wire::Header& header);

// Parses frame 0. Rejects garbage and a foreign version with InvalidArgument naming both
// versions; on a version mismatch `*header` still holds what could be read (for the reply).
Status DecodeHeader(const zmq::message_t& frame, wire::Header* header);

// "PUSH", "PULL", ... for logs.
const char* CommandName(wire::Command c);

}  // namespace sparrow::transport
