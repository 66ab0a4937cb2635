#include "bench/http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace sparrow::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kSubBuckets = 32;  // per power of two; values below 2 * kSubBuckets are exact
constexpr size_t kBucketCount = 2 * kSubBuckets + (64 - 6) * kSubBuckets;

size_t BucketOf(uint64_t v) {
  if (v < 2 * kSubBuckets) return v;
  const int msb = 63 - __builtin_clzll(v);  // >= 6
  const int shift = msb - 5;                // keeps the top 6 bits: 32..63
  return 2 * kSubBuckets + static_cast<size_t>(msb - 6) * kSubBuckets +
         static_cast<size_t>((v >> shift) - kSubBuckets);
}

uint64_t UpperBound(size_t b) {
  if (b < 2 * kSubBuckets) return b;
  const size_t k = b - 2 * kSubBuckets;
  const int shift = static_cast<int>(k / kSubBuckets) + 1;
  const uint64_t top = k % kSubBuckets + kSubBuckets;
  return ((top + 1) << shift) - 1;
}

struct Conn {
  int fd = -1;
  enum State { kIdle, kConnecting, kSending, kWaiting } state = kIdle;
  size_t sent = 0;           // bytes of the request written
  bool established = false;  // counted in open_
  bool want_out = false;     // EPOLLOUT asked for (a write would have blocked)
  bool answered = false;     // got at least one answer
  std::string in;            // bytes of the answer read so far
  Clock::time_point sent_at, retry_at;
};

bool NameIs(std::string_view line, size_t colon, std::string_view name) {
  return colon == name.size() && strncasecmp(line.data(), name.data(), name.size()) == 0;
}

uint64_t Number(std::string_view v) {
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  uint64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

// One parsed answer at the front of `in`: its status and total length, or 0 while
// incomplete, or -1 when it is not an HTTP/1.x answer framed by Content-Length. Allocates
// nothing: the client must stay cheaper than the server it loads.
long ParseAnswer(std::string_view in, int* status, bool* close, int* retry_after) {
  const size_t end = in.find("\r\n\r\n");
  if (end == std::string_view::npos) return in.size() > (64 << 10) ? -1 : 0;
  if (in.size() < 12 || in.substr(0, 7) != "HTTP/1.") return -1;
  *status = static_cast<int>(Number(in.substr(9, 3)));
  *close = false;
  *retry_after = 0;
  long length = -1;
  size_t pos = in.find("\r\n") + 2;
  while (pos < end) {
    const size_t eol = in.find("\r\n", pos);
    const std::string_view line = in.substr(pos, eol - pos);
    const size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view value = line.substr(colon + 1);
      if (NameIs(line, colon, "Content-Length")) {
        length = static_cast<long>(Number(value));
      } else if (NameIs(line, colon, "Retry-After")) {
        *retry_after = static_cast<int>(Number(value));
      } else if (NameIs(line, colon, "Connection")) {
        *close = value.find("close") != std::string_view::npos;
      }
    }
    pos = eol + 2;
  }
  if (length < 0) return -1;
  const size_t total = end + 4 + static_cast<size_t>(length);
  return in.size() >= total ? static_cast<long>(total) : 0;
}

class Runner {
 public:
  explicit Runner(const HttpLoadOptions& o) : o_(o), conns_(static_cast<size_t>(o.connections)) {
    addr_.sin_family = AF_INET;
    addr_.sin_port = htons(o.port);
    inet_pton(AF_INET, o.host.c_str(), &addr_.sin_addr);
  }

  HttpLoadResult Run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) {
      Error(std::string("epoll_create1: ") + std::strerror(errno));
      return r_;
    }
    const Clock::time_point start = Clock::now();
    end_ = start +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.seconds));
    for (Conn& c : conns_) Open(&c);
    std::vector<epoll_event> events(1024);
    for (Clock::time_point now = Clock::now(); now < end_; now = Clock::now()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end_ - now).count();
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(std::min<int64_t>(left + 1, retrying_ ? 10 : 100)));
      for (int i = 0; i < n; ++i) Handle(&conns_[events[i].data.u64], events[i].events);
      if (retrying_ > 0) RetryIdle();
    }
    r_.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    for (Conn& c : conns_) {
      if (c.state == Conn::kSending || c.state == Conn::kWaiting) ++r_.unanswered;
      if (c.fd >= 0) close(c.fd);
    }
    close(ep_);
    return std::move(r_);
  }

 private:
  void Error(const std::string& what) {
    ++r_.errors;
    if (r_.first_error.empty()) r_.first_error = what;
  }

  void Open(Conn* c) {
    c->in.clear();
    c->sent = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return Failed(c, std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, reinterpret_cast<const sockaddr*>(&addr_), sizeof(addr_)) != 0 &&
        errno != EINPROGRESS) {
      return Failed(c, std::string("connect: ") + std::strerror(errno));
    }
    c->state = Conn::kConnecting;
    epoll_event ev{};
    ev.events = EPOLLOUT | EPOLLIN;
    ev.data.u64 = static_cast<uint64_t>(c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_ADD, c->fd, &ev);
  }

  // Counts the failure, closes, and opens again after 10 ms (a refusing server must not
  // turn the client into a connect loop).
  void Failed(Conn* c, const std::string& why) {
    Error(why);
    Drop(c);
    c->retry_at = Clock::now() + std::chrono::milliseconds(10);
    ++retrying_;
  }

  void Drop(Conn* c) {
    if (c->fd >= 0) close(c->fd);
    if (c->established) --open_;
    c->established = false;
    c->want_out = false;
    c->fd = -1;
    c->state = Conn::kIdle;
  }

  void Watch(Conn* c, bool out) {
    epoll_event ev{};
    ev.events = EPOLLIN | (out ? EPOLLOUT : 0u);
    ev.data.u64 = static_cast<uint64_t>(c - conns_.data());
    epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = out;
  }

  // Opens the connections that failed, and sends on those told to retry later, once
  // their time has come.
  void RetryIdle() {
    const Clock::time_point now = Clock::now();
    for (Conn& c : conns_) {
      if (c.state != Conn::kIdle || c.retry_at > now || c.retry_at == Clock::time_point()) continue;
      c.retry_at = Clock::time_point();
      --retrying_;
      if (c.fd < 0) {
        Open(&c);
      } else {
        Send(&c);
      }
    }
  }

  void Send(Conn* c) {
    if (Clock::now() >= end_) return;
    if (c->state != Conn::kSending) {
      c->state = Conn::kSending;
      c->sent = 0;
      c->sent_at = Clock::now();
    }
    while (c->sent < o_.request.size()) {
      const ssize_t k = write(c->fd, o_.request.data() + c->sent, o_.request.size() - c->sent);
      if (k < 0) {
        if (errno == EAGAIN) {
          if (!c->want_out) Watch(c, true);
          return;
        }
        return Failed(c, std::string("write: ") + std::strerror(errno));
      }
      c->sent += static_cast<size_t>(k);
    }
    if (c->want_out) Watch(c, false);
    c->state = Conn::kWaiting;
  }

  void Handle(Conn* c, uint32_t events) {
    if (c->fd < 0) return;
    if (c->state == Conn::kConnecting) {
      int err = 0;
      socklen_t len = sizeof(err);
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Failed(c, std::string("connect: ") + std::strerror(err));
      if (!(events & (EPOLLOUT | EPOLLIN))) return;
      c->established = true;
      r_.max_open = std::max(r_.max_open, ++open_);
      Watch(c, false);
      c->state = Conn::kIdle;
      Send(c);
      return;
    }
    if (c->state == Conn::kSending && (events & EPOLLOUT)) Send(c);
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)) || c->fd < 0) return;
    char buf[16384];
    const ssize_t k = read(c->fd, buf, sizeof(buf));
    if (k < 0 && errno == EAGAIN) return;
    if (k == 0 && c->state == Conn::kIdle && c->in.empty()) {
      // Closed between requests (idle timeout, drain): not an error; open another.
      ++r_.reconnects;
      const bool waiting = c->retry_at != Clock::time_point();
      Drop(c);
      if (!waiting && Clock::now() < end_) Open(c);
      return;
    }
    if (k <= 0) {
      return Failed(c, k == 0 ? "the server closed a connection with a request unanswered"
                              : std::string("read: ") + std::strerror(errno));
    }
    c->in.append(buf, static_cast<size_t>(k));
    int status = 0;
    bool close_after = false;
    int retry_after = 0;
    const long n = ParseAnswer(c->in, &status, &close_after, &retry_after);
    if (n < 0) return Failed(c, "an answer that is not HTTP/1.x with Content-Length");
    if (n == 0) return;
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c->sent_at);
    const uint64_t micros = static_cast<uint64_t>(us.count());
    if (status == 200) {
      ++r_.ok;
      r_.ok_latency.Add(micros);
    } else if (status == 503) {
      ++r_.shed;
      r_.shed_latency.Add(micros);
      if (retry_after <= 0) ++r_.shed_without_retry_after;
    } else {
      ++r_.other;
      if (r_.first_error.empty()) {
        r_.first_error = "status " + std::to_string(status) + ": " + c->in.substr(0, 300);
      }
    }
    c->in.erase(0, static_cast<size_t>(n));
    c->state = Conn::kIdle;
    if (!c->answered) ++r_.answered_connections;
    c->answered = true;
    if (close_after) {
      ++r_.reconnects;
      Drop(c);
      if (Clock::now() < end_) Open(c);
      return;
    }
    if (status == 503 && retry_after > 0 && o_.honor_retry_after) {
      c->retry_at = Clock::now() + std::chrono::seconds(retry_after);  // RetryIdle sends
      ++retrying_;
      return;
    }
    Send(c);
  }

  const HttpLoadOptions& o_;
  std::vector<Conn> conns_;
  sockaddr_in addr_{};
  int ep_ = -1;
  int open_ = 0;
  int retrying_ = 0;
  Clock::time_point end_;
  HttpLoadResult r_;
};

}  // namespace

LatencyHistogram::LatencyHistogram() : buckets_(kBucketCount, 0) {}

void LatencyHistogram::Add(uint64_t us) {
  ++buckets_[std::min(BucketOf(us), kBucketCount - 1)];
  ++count_;
}

uint64_t LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    seen += buckets_[b];
    if (seen >= rank) return UpperBound(b);
  }
  return UpperBound(buckets_.size() - 1);
}

std::string PostRequest(const std::string& path, const std::string& body) {
  return "POST " + path +
         " HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

HttpLoadResult RunHttpLoad(const HttpLoadOptions& options) {
  return Runner(options).Run();
}

}  // namespace sparrow::bench
