// Link: a direct path between two nodes of one host, over a Unix stream socket, beside
// ZeroMQ.
//
// Why: ZeroMQ hands every message to an I/O thread on the sending side and to another on
// the receiving side, so a request and its reply cross four thread hand-offs besides the
// ones the application needs, and on a busy host each hand-off waits for a core. A link
// writes a message from the sending thread straight into the socket, and the receiving
// node's Van reads it on its receive thread. (Idle 2-core VM, 280 KB each way: 92 us a
// round trip against 164 us for ZeroMQ over the same kind of socket.)
//
// A link carries the frames of the ZeroMQ path (header frame, then data frames), in the
// order they were sent, one way: a node sends on the links it connected (LinkOut) and
// receives on the ones it accepted (LinkIn). On the socket each message is
//   u32 kLinkMagic | u32 frame count | u64 size of each frame | each frame's bytes
// Names live in Linux's abstract namespace ("unix://@NAME"): no file to clean up, and
// reachable only from the same network namespace (see cluster::HostScope).
//
// Who may connect: an abstract socket has no file mode, so any process of the network
// namespace could connect and push. Both ends therefore check the other's credentials
// (SO_PEERCRED, which the kernel records at connect() and listen() and the peer cannot
// forge): a listener accepts only processes of its own effective uid, and a sender talks
// only to a listener of its own uid (a name squatted by another user is refused).
//
// Sending never blocks: the bytes the socket does not take at once wait in the link's
// queue (the frames themselves, not copies) until Flush() is called when the socket is
// writable. So two nodes that send to each other from their receive threads cannot
// deadlock on full sockets.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "core/status.h"

namespace sparrow::transport {

inline constexpr uint32_t kLinkMagic = 0x4b4c5053;  // "SPLK"
// A message of more frames than this is garbage (a data message has at most 33).
inline constexpr uint32_t kLinkMaxFrames = 1024;

// Receives on a connected socket. Thread safety: one thread (the Van's receive thread).
class LinkIn {
 public:
  explicit LinkIn(int fd);  // takes the (non-blocking) socket
  ~LinkIn();
  LinkIn(const LinkIn&) = delete;
  LinkIn& operator=(const LinkIn&) = delete;

  int fd() const { return fd_; }

  // Reads what the socket holds now (stopping once 64 messages are complete, so that one
  // busy peer cannot starve the others) and appends every message it completes to *out (each as its
  // frames, header first). Returns OK while the link is open; once the peer has closed it
  // (or sent garbage) returns why, naming any message cut off half-way.
  Status Read(std::vector<std::vector<zmq::message_t>>* out);

 private:
  // Takes what it can from the staging buffer into the message being assembled.
  Status Parse(std::vector<std::vector<zmq::message_t>>* out);
  // cur_ is complete: keeps it and starts the next frame, or emits the message.
  Status FinishFrame(std::vector<std::vector<zmq::message_t>>* out);

  int fd_;
  std::vector<char> stage_;  // bytes read, [begin_, end_) not yet parsed
  size_t begin_ = 0, end_ = 0;
  // The message being assembled: its frame sizes once its prefix is read, the frames
  // complete so far, and the next one, filled_ bytes in.
  std::vector<uint64_t> sizes_;
  bool have_prefix_ = false;
  std::vector<zmq::message_t> frames_;
  zmq::message_t cur_;
  size_t filled_ = 0;
};

// Sends on a connected socket. Thread safety: Send, Flush and Drain from any thread.
class LinkOut {
 public:
  // Connects to "unix://@NAME". Fails with Unavailable naming the address, or with
  // FailedPrecondition when the listener belongs to another uid.
  static Result<std::unique_ptr<LinkOut>> Connect(const std::string& address);
  ~LinkOut();
  LinkOut(const LinkOut&) = delete;
  LinkOut& operator=(const LinkOut&) = delete;

  int fd() const { return fd_; }

  // Queues one message (header, then `frames`, which are moved out) and writes what the
  // socket takes now. Never blocks. Unavailable once the peer has closed the link.
  Status Send(zmq::message_t header, std::vector<zmq::message_t>* frames);
  // Writes queued bytes the socket now takes. Unavailable once the link is broken.
  Status Flush();
  // True while bytes wait in the queue (the caller should Flush when writable).
  bool pending() const { return pending_.load(std::memory_order_acquire); }
  // Flushes until the queue is empty or `timeout_ms` passed (waiting for the socket).
  void Drain(int timeout_ms);

 private:
  LinkOut(int fd, std::string address) : fd_(fd), address_(std::move(address)) {}
  Status FlushLocked();

  const int fd_;
  const std::string address_;
  std::mutex mu_;
  std::deque<zmq::message_t> queue_;  // guarded by mu_: frames (and prefixes) not yet written
  size_t offset_ = 0;                 // bytes of queue_.front() already written
  Status broken_;                     // guarded by mu_
  std::atomic<bool> pending_{false};
};

// Accepts links. Thread safety: one thread (the Van's receive thread), after Listen;
// refused() from any thread.
class LinkListener {
 public:
  // Listens on "unix://@NAME". Fails with Unavailable if the name is taken.
  static Result<std::unique_ptr<LinkListener>> Listen(const std::string& name);
  ~LinkListener();
  LinkListener(const LinkListener&) = delete;
  LinkListener& operator=(const LinkListener&) = delete;

  int fd() const { return fd_; }
  const std::string& address() const { return address_; }
  // The next pending connection of a process of this process's effective uid, or nullptr
  // when none is waiting. Connections of other users (or whose credentials cannot be read)
  // are closed on the spot, logged with the peer's pid and uid, and counted.
  std::unique_ptr<LinkIn> Accept();
  // Connections refused so far.
  uint64_t refused() const { return refused_.load(std::memory_order_relaxed); }

 private:
  LinkListener(int fd, std::string address) : fd_(fd), address_(std::move(address)) {}
  const int fd_;
  const std::string address_;
  std::atomic<uint64_t> refused_{0};
};

// True for "unix://@NAME" addresses (links), false for ZeroMQ endpoints.
bool IsLinkAddress(const std::string& address);

}  // namespace sparrow::transport
