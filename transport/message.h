// Message: one ZeroMQ multipart message of the Sparrow wire protocol (proto/wire.proto).
//
// Frame 0 is the Protobuf Header; data frames follow raw (keys, then values). Received
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
// or of the frame layout.
inline constexpr uint32_t kWireVersion = 1;

struct Message {
  wire::Header header;
  std::vector<zmq::message_t> frames;  // data frames (frame 1 onward)

  // Views of the data frames. Require ValidateDataFrames() to have succeeded (for received
  // messages) or the frames to have been built by this process. Valid while *this lives.
  std::span<const uint64_t> keys() const;
  std::span<const float> values() const;

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

// Checks the data frames of a PUSH, PULL or PULL_REPLY against the header: frame count,
// keys frame length == num_keys * 8, values frame length == num_keys * value_width * 4,
// keys strictly ascending and within [key_begin, key_end]. On failure returns
// InvalidArgument with the reason; the message is left untouched.
Status ValidateDataFrames(const Message& msg, uint64_t key_begin, uint64_t key_end);

// Serialises the header as frame 0. Fills in the version.
zmq::message_t EncodeHeader(wire::Header& header);

// Parses frame 0. Rejects garbage and a foreign version with InvalidArgument naming both
// versions; on a version mismatch `*header` still holds what could be read (for the reply).
Status DecodeHeader(const zmq::message_t& frame, wire::Header* header);

// "PUSH", "PULL", ... for logs.
const char* CommandName(wire::Command c);

}  // namespace sparrow::transport
