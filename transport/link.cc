#include "transport/link.h"

#include <fcntl.h>
#include <glog/logging.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>

namespace sparrow::transport {
namespace {

constexpr char kScheme[] = "unix://@";
constexpr size_t kSchemeLen = sizeof(kScheme) - 1;
// Bytes read at a time into the staging buffer; a frame still missing at least this much
// once the buffer is drained is read straight into its own memory instead.
constexpr size_t kStage = 64 << 10;
// A frame larger than this is garbage: no message of the protocol comes near it.
constexpr uint64_t kMaxFrame = uint64_t{16} << 30;
// Messages one Read returns at most before the Van serves its other sockets.
constexpr size_t kMaxMessagesPerRead = 64;
// How many queued frames one sendmsg takes (well under IOV_MAX).
constexpr int kIov = 64;
// Socket send buffer asked for: a training step's ~300 KB message goes in one call. Past
// net.core.wmem_max only a privileged process gets it (SO_SNDBUFFORCE); a smaller buffer
// only means the rest of a message waits for the receive thread's flush.
constexpr int kSendBuffer = 4 << 20;

std::string Errno(int e) {
  return std::strerror(e);
}

// The credentials the kernel recorded for the other end of connected Unix socket `fd`.
bool PeerCredentials(int fd, ucred* cred) {
  socklen_t len = sizeof(*cred);
  return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len) == 0 && len == sizeof(*cred);
}

// The abstract-namespace address of `name`; *len receives its length.
sockaddr_un AbstractAddress(const std::string& name, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const size_t n = std::min(name.size(), sizeof(a.sun_path) - 1);
  std::memcpy(a.sun_path + 1, name.data(), n);  // sun_path[0] == 0: abstract
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
  return a;
}

// A frame of `size` bytes; an error instead of an exception when memory runs out (a peer
// may claim any size up to kMaxFrame).
Status NewFrame(uint64_t size, zmq::message_t* frame) {
  try {
    zmq::message_t f(static_cast<size_t>(size));
    *frame = std::move(f);
  } catch (const zmq::error_t& e) {
    return OutOfRange("cannot allocate a frame of " + std::to_string(size) + " bytes: " + e.what());
  }
  return Status::Ok();
}

}  // namespace

bool IsLinkAddress(const std::string& address) {
  return address.compare(0, kSchemeLen, kScheme) == 0;
}

// ---- LinkIn ----

LinkIn::LinkIn(int fd) : fd_(fd), stage_(kStage) {}

LinkIn::~LinkIn() {
  close(fd_);
}

Status LinkIn::Parse(std::vector<std::vector<zmq::message_t>>* out) {
  for (;;) {
    const size_t avail = end_ - begin_;
    const char* p = stage_.data() + begin_;
    if (!have_prefix_) {
      uint32_t head[2];
      if (avail < sizeof(head)) return Status::Ok();
      std::memcpy(head, p, sizeof(head));
      if (head[0] != kLinkMagic) return InvalidArgument("not a Sparrow link (bad magic)");
      if (head[1] == 0 || head[1] > kLinkMaxFrames) {
        return InvalidArgument("bad frame count " + std::to_string(head[1]));
      }
      const size_t prefix = sizeof(head) + head[1] * sizeof(uint64_t);
      if (avail < prefix) return Status::Ok();
      sizes_.resize(head[1]);
      std::memcpy(sizes_.data(), p + sizeof(head), head[1] * sizeof(uint64_t));
      for (uint64_t s : sizes_) {
        if (s > kMaxFrame) return InvalidArgument("frame of " + std::to_string(s) + " bytes");
      }
      begin_ += prefix;
      have_prefix_ = true;
      frames_.clear();
      filled_ = 0;
      SPARROW_RETURN_IF_ERROR(NewFrame(sizes_[0], &cur_));
      continue;
    }
    const size_t take = std::min(avail, cur_.size() - filled_);
    if (take > 0) std::memcpy(static_cast<char*>(cur_.data()) + filled_, p, take);
    begin_ += take;
    filled_ += take;
    if (filled_ < cur_.size()) return Status::Ok();  // the staging buffer is drained
    SPARROW_RETURN_IF_ERROR(FinishFrame(out));
  }
}

Status LinkIn::FinishFrame(std::vector<std::vector<zmq::message_t>>* out) {
  frames_.push_back(std::move(cur_));
  filled_ = 0;
  if (frames_.size() < sizes_.size()) return NewFrame(sizes_[frames_.size()], &cur_);
  out->push_back(std::move(frames_));
  frames_.clear();
  have_prefix_ = false;
  return Status::Ok();
}

Status LinkIn::Read(std::vector<std::vector<zmq::message_t>>* out) {
  for (;;) {
    bool direct = false;  // read into the frame itself
    if (begin_ == end_) {
      begin_ = end_ = 0;
      direct = have_prefix_ && cur_.size() - filled_ >= kStage;
    } else if (begin_ > 0) {
      std::memmove(stage_.data(), stage_.data() + begin_, end_ - begin_);  // a partial prefix
      end_ -= begin_;
      begin_ = 0;
    }
    const ssize_t n =
        direct ? read(fd_, static_cast<char*>(cur_.data()) + filled_, cur_.size() - filled_)
               : read(fd_, stage_.data() + end_, stage_.size() - end_);
    if (n > 0) {
      (direct ? filled_ : end_) += static_cast<size_t>(n);
      SPARROW_RETURN_IF_ERROR(Parse(out));
      // A peer that keeps writing must not keep the receive thread from its other
      // sockets: return a batch, and poll (level-triggered) brings the loop back.
      if (out->size() >= kMaxMessagesPerRead) return Status::Ok();
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Status::Ok();
    const std::string why = n == 0 ? "closed by the peer" : "read failed: " + Errno(errno);
    if (have_prefix_ || end_ > begin_) {
      return Unavailable("link " + why + " in the middle of a message (frame " +
                         std::to_string(frames_.size() + 1) + " of " +
                         std::to_string(sizes_.size()) + "); the partial message is dropped");
    }
    return Unavailable("link " + why);
  }
}

// ---- LinkOut ----

Result<std::unique_ptr<LinkOut>> LinkOut::Connect(const std::string& address) {
  if (!IsLinkAddress(address)) return InvalidArgument("not a link address: " + address);
  socklen_t len;
  const sockaddr_un a = AbstractAddress(address.substr(kSchemeLen), &len);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("cannot create a socket for " + address + ": " + Errno(errno));
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &kSendBuffer, sizeof(kSendBuffer)) != 0) {
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSendBuffer, sizeof(kSendBuffer));
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a), len) != 0) {
    const int e = errno;
    close(fd);
    return Unavailable("cannot connect to " + address + ": " + Errno(e));
  }
  // Gradients and weights go only to a listener of our own user: a name taken by another
  // user is not our peer, whatever the node table says.
  ucred cred{};
  if (!PeerCredentials(fd, &cred) || cred.uid != geteuid()) {
    close(fd);
    return FailedPrecondition("refusing the link " + address + ": its listener (pid " +
                              std::to_string(cred.pid) + ", uid " + std::to_string(cred.uid) +
                              ") is not of this process's uid " + std::to_string(geteuid()));
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<LinkOut>(new LinkOut(fd, address));
}

LinkOut::~LinkOut() {
  close(fd_);
}

Status LinkOut::Send(zmq::message_t header, std::vector<zmq::message_t>* frames) {
  const uint32_t count = static_cast<uint32_t>(1 + frames->size());
  zmq::message_t prefix(2 * sizeof(uint32_t) + count * sizeof(uint64_t));
  char* p = static_cast<char*>(prefix.data());
  const uint32_t head[2] = {kLinkMagic, count};
  std::memcpy(p, head, sizeof(head));
  p += sizeof(head);
  const uint64_t hs = header.size();
  std::memcpy(p, &hs, sizeof(hs));
  for (size_t i = 0; i < frames->size(); ++i) {
    const uint64_t s = (*frames)[i].size();
    std::memcpy(p + (i + 1) * sizeof(uint64_t), &s, sizeof(s));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (!broken_.ok()) return broken_;
  queue_.push_back(std::move(prefix));
  queue_.push_back(std::move(header));
  for (auto& f : *frames) queue_.push_back(std::move(f));
  frames->clear();
  return FlushLocked();
}

Status LinkOut::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return FlushLocked();
}

Status LinkOut::FlushLocked() {
  if (!broken_.ok()) return broken_;
  while (!queue_.empty()) {
    iovec iov[kIov];
    int cnt = 0;
    size_t skip = offset_;
    for (auto it = queue_.begin(); it != queue_.end() && cnt < kIov; ++it) {
      const size_t len = it->size() - skip;
      if (len > 0) iov[cnt++] = {static_cast<char*>(it->data()) + skip, len};
      skip = 0;
    }
    size_t left = 0;
    if (cnt > 0) {
      msghdr mh{};
      mh.msg_iov = iov;
      mh.msg_iovlen = static_cast<size_t>(cnt);
      const ssize_t n = sendmsg(fd_, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        broken_ = Unavailable("link to " + address_ + " broken: " + Errno(errno));
        queue_.clear();
        offset_ = 0;
        pending_.store(false, std::memory_order_release);
        return broken_;
      }
      left = static_cast<size_t>(n);
    }
    // Drop what went out (empty frames go with it); keep the offset into the rest.
    while (!queue_.empty() && queue_.front().size() - offset_ <= left) {
      left -= queue_.front().size() - offset_;
      queue_.pop_front();
      offset_ = 0;
    }
    if (!queue_.empty()) offset_ += left;
  }
  pending_.store(!queue_.empty(), std::memory_order_release);
  return Status::Ok();
}

void LinkOut::Drain(int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (pending()) {
    if (!Flush().ok() || !pending()) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return;
    pollfd p{fd_, POLLOUT, 0};
    (void)poll(&p, 1, static_cast<int>(left));
  }
}

// ---- LinkListener ----

Result<std::unique_ptr<LinkListener>> LinkListener::Listen(const std::string& name) {
  const std::string address = kScheme + name;
  socklen_t len;
  const sockaddr_un a = AbstractAddress(name, &len);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Unavailable("cannot listen on " + address + ": " + Errno(errno));
  if (bind(fd, reinterpret_cast<const sockaddr*>(&a), len) != 0 || listen(fd, 128) != 0) {
    const int e = errno;
    close(fd);
    return Unavailable("cannot listen on " + address + ": " + Errno(e));
  }
  return std::unique_ptr<LinkListener>(new LinkListener(fd, address));
}

LinkListener::~LinkListener() {
  close(fd_);
}

std::unique_ptr<LinkIn> LinkListener::Accept() {
  for (;;) {
    const int fd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return nullptr;
    ucred cred{};
    const bool known = PeerCredentials(fd, &cred);
    const int e = errno;
    if (known && cred.uid == geteuid()) return std::make_unique<LinkIn>(fd);
    // Counted before the peer can see the close; closed before a byte is read, so
    // nothing a stranger sends reaches a handler.
    refused_.fetch_add(1, std::memory_order_relaxed);
    close(fd);
    if (known) {
      LOG(WARNING) << "refused a link on " << address_ << " from pid " << cred.pid << " (uid "
                   << cred.uid << ", gid " << cred.gid << "): only uid " << geteuid()
                   << " may connect";
    } else {
      LOG(WARNING) << "refused a link on " << address_
                   << ": cannot read its credentials: " << Errno(e);
    }
  }
}

}  // namespace sparrow::transport
