#pragma once
// Shared memory for values, arrays and locks: an anonymous memfd, mapped by
// every process it reaches. It travels as a descriptor, never has a name in
// /dev/shm, and is freed by the kernel when the last process unmaps it, even
// after crashes. Internal; use <actors/shared.hpp> and <actors/sync.hpp>.

#include <cstddef>
#include <cstdint>
#include <memory>

#include <actors/detail/channel.hpp>

namespace actors::detail {

class shm_segment {
public:
  /// A new zero-filled segment of `size` bytes. Throws errc::system_error.
  explicit shm_segment(std::size_t size);
  /// Maps the segment behind `fd`, taking ownership of it.
  explicit shm_segment(int fd);
  ~shm_segment();
  shm_segment(const shm_segment&) = delete;
  shm_segment& operator=(const shm_segment&) = delete;

  char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  int fd() const noexcept { return fd_; }

private:
  int fd_ = -1;
  char* data_ = nullptr;
  std::size_t size_ = 0;
};

/// While decoding: the segment whose descriptor is received `index`.
std::shared_ptr<shm_segment> import_segment(std::uint32_t index);

/// How every segment-backed handle travels: its memfd, as a descriptor.
template <class Archive>
void save_segment(Archive& ar, const std::shared_ptr<shm_segment>& segment) {
  ar(export_fd(segment->fd()));
}

template <class Archive>
std::shared_ptr<shm_segment> load_segment(Archive& ar) {
  std::uint32_t index = 0;
  ar(index);
  return import_segment(index);
}

/// Base of handles whose state is one whole segment (event, semaphore,
/// barrier, value, condition): it holds the segment and is how they travel.
class segment_handle {
public:
  template <class Archive>
  void save(Archive& ar) const {
    save_segment(ar, segment_);
  }
  template <class Archive>
  void load(Archive& ar) {
    segment_ = load_segment(ar);
  }

protected:
  std::shared_ptr<shm_segment> segment_;
};

/// Initializes a robust, process-shared pthread mutex at `where`.
void init_robust_mutex(void* where, bool recursive);

/// Bytes a robust mutex takes in a segment (rounded up for alignment).
std::size_t mutex_bytes() noexcept;

} // namespace actors::detail
