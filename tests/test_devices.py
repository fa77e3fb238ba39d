"""devices.py: which device, and the process-wide CUDA settings that come with a CUDA device."""

from __future__ import annotations

import pytest
import torch

from ftdemo.devices import prepare_cuda, resolve_device
from ftdemo.errors import InvalidInputError


@pytest.fixture
def cudnn_attention_restored():
    before = torch.backends.cuda.cudnn_sdp_enabled()
    yield
    torch.backends.cuda.enable_cudnn_sdp(before)


def test_cpu_is_resolved_as_asked_and_auto_falls_back_to_it_without_a_gpu():
    assert resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert resolve_device("auto").type in ("cpu", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where no GPU is visible")
def test_asking_for_cuda_without_a_gpu_says_what_to_use_instead():
    with pytest.raises(InvalidInputError, match="no CUDA GPU is visible; use device='auto' or 'cpu'"):
        resolve_device("cuda")


def test_prepare_cuda_turns_cudnn_attention_off_and_can_be_called_again(cudnn_attention_restored):
    torch.backends.cuda.enable_cudnn_sdp(True)  # torch's default
    prepare_cuda()
    assert not torch.backends.cuda.cudnn_sdp_enabled()
    prepare_cuda()
    assert not torch.backends.cuda.cudnn_sdp_enabled()
    # the other SDPA kernels stay on: attention is not pushed onto the slow math path
    assert torch.backends.cuda.flash_sdp_enabled() and torch.backends.cuda.mem_efficient_sdp_enabled()
