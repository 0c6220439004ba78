// advcal's LibTorch shim: the two ATen backward kernels that tch 0.22 cannot bind (their schemas
// take `bool[3] output_mask`, which tch's generator skips). Compiled by build.rs only with the
// `tch` feature; called from src/model/fused/tch.rs.
//
// Tensors cross the boundary as `at::Tensor*` (tch's `C_tensor`). Inputs are borrowed; each
// requested output is a new heap `at::Tensor` owned by the caller (tch's `Tensor::from_ptr`),
// null where its mask entry is 0 (or ATen returned no tensor). Every function returns 0 on success and 1 on a C++ exception,
// whose message is copied (truncated, NUL-terminated) into `err`.
#include <ATen/ops/convolution_backward.h>
#include <ATen/ops/native_batch_norm_backward.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <optional>
#include <tuple>
#include <vector>

namespace {

void copy_message(const char *what, char *err, size_t err_len) {
  if (err == nullptr || err_len == 0) return;
  std::strncpy(err, what, err_len - 1);
  err[err_len - 1] = '\0';
}

// Heap copies of the requested (and defined) outputs; nothing is written to `out` unless every
// allocation succeeded, so a throw here leaks nothing the caller could see.
void take(const std::tuple<at::Tensor, at::Tensor, at::Tensor> &r,
          const std::array<bool, 3> &mask, at::Tensor **out) {
  const at::Tensor *all[3] = {&std::get<0>(r), &std::get<1>(r), &std::get<2>(r)};
  std::unique_ptr<at::Tensor> held[3];
  for (int i = 0; i < 3; ++i) {
    if (mask[i] && all[i]->defined()) held[i] = std::make_unique<at::Tensor>(*all[i]);
  }
  for (int i = 0; i < 3; ++i) out[i] = held[i].release();
}

// Runs `body` and turns any C++ exception into status 1 with its message in `err`: nothing may
// unwind into Rust through an `extern "C"` function.
template <class Body>
int guarded(Body &&body, char *err, size_t err_len) noexcept {
  try {
    body();
    return 0;
  } catch (const std::exception &e) {
    copy_message(e.what(), err, err_len);
  } catch (...) {
    copy_message("unknown C++ exception", err, err_len);
  }
  return 1;
}

}  // namespace

extern "C" {

// Gradients of a (non-transposed) N-d convolution w.r.t. input, weight and bias, as PyTorch's
// autograd computes them (one `aten::convolution_backward`, i.e. oneDNN/native kernels on CPU).
// `bias_len < 0`: the convolution has no bias.
int advcal_convolution_backward(const at::Tensor *grad_out, const at::Tensor *input,
                                const at::Tensor *weight, int64_t bias_len,
                                const int64_t *stride, const int64_t *padding,
                                const int64_t *dilation, int64_t dims, int64_t groups,
                                const int *mask, at::Tensor **out, char *err,
                                size_t err_len) noexcept {
  return guarded([&] {
    std::array<bool, 3> m = {mask[0] != 0, mask[1] != 0, mask[2] != 0 && bias_len >= 0};
    std::vector<int64_t> bias_sizes;
    if (bias_len >= 0) bias_sizes.push_back(bias_len);
    at::OptionalIntArrayRef bias_ref = std::nullopt;
    if (bias_len >= 0) bias_ref = at::IntArrayRef(bias_sizes);
    std::vector<int64_t> output_padding(static_cast<size_t>(dims), 0);
    auto r = at::convolution_backward(*grad_out, *input, *weight, bias_ref,
                                      at::IntArrayRef(stride, dims), at::IntArrayRef(padding, dims),
                                      at::IntArrayRef(dilation, dims), /*transposed=*/false,
                                      output_padding, groups, m);
    take(r, m, out);
  }, err, err_len);
}

// Gradients of train-mode batch normalisation (batch statistics `save_mean`, `save_invstd` from
// `native_batch_norm(training = true)`) w.r.t. input, weight (γ) and bias (β): PyTorch's fused
// `aten::native_batch_norm_backward`. `weight` may be null (γ = 1).
int advcal_batch_norm_backward(const at::Tensor *grad_out, const at::Tensor *input,
                               const at::Tensor *weight, const at::Tensor *save_mean,
                               const at::Tensor *save_invstd, double eps, const int *mask,
                               at::Tensor **out, char *err, size_t err_len) noexcept {
  return guarded([&] {
    std::array<bool, 3> m = {mask[0] != 0, mask[1] != 0 && weight != nullptr, mask[2] != 0};
    std::optional<at::Tensor> w = std::nullopt;
    if (weight != nullptr) w = *weight;
    auto r = at::native_batch_norm_backward(*grad_out, *input, w, std::nullopt, std::nullopt,
                                            *save_mean, *save_invstd, /*train=*/true, eps, m);
    take(r, m, out);
  }, err, err_len);
}

}  // extern "C"
