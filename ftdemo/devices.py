"""Which torch device to compute on: one rule for training, serving and explanations."""

from __future__ import annotations

import torch

from ftdemo.errors import InvalidInputError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" → CUDA, then Apple MPS, then CPU; an explicit device must exist."""
    if str(name) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InvalidInputError("device 'cuda' was asked for but no CUDA GPU is visible; use device='auto' or 'cpu'")
    return device


def describe_device(device: torch.device) -> str:
    """A human-readable device name for run records and model cards."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    if device.type == "cpu":
        return f"cpu ({torch.get_num_threads()} threads)"
    return device.type
