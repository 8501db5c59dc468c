"""Models brought from elsewhere (tools.bring_model), as a checkpoint carries them.

A program file (torch.export or TorchScript) is a BroughtProgram: the checkpoint holds the
file's bytes as a uint8 buffer and, in model_args, only its format, size, sha256, the dtype it
computes in and how many rows it takes per call, all plain values that
torch.load(weights_only=True) reads. The program is checked and loaded from those bytes when
the state_dict is loaded, never unpickled from the checkpoint itself.

A state_dict with its class is a BroughtNetwork around that class, built from the family's own
models/<family>_network.py (models.checkpoint.network_class).

Either answers [N] where the model gives one column, [N, 1], as the families' own models do.
"""

import hashlib

import torch
from torch import nn

from models.exported_program_check import load_exported_program
from models.program_files import EXPORTED_PROGRAM, TORCHSCRIPT, ProgramError
from models.torchscript_check import load_torchscript

LOADERS = {EXPORTED_PROGRAM: load_exported_program, TORCHSCRIPT: load_torchscript}
ANY_ROWS = 0  # rows_per_call for a program that takes a batch of any size


def one_row_per_example(output: torch.Tensor) -> torch.Tensor:
    """A model's output → the same, with an [N, 1] column as [N]."""
    return output.squeeze(1) if output.dim() == 2 and output.shape[1] == 1 else output


class BroughtNetwork(nn.Module):
    """Model input(s) → the brought class's output, one row per example."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, *inputs):
        return one_row_per_example(self.network(*inputs))


class BroughtProgram(nn.Module):
    """Model input(s) → the program's output, computed in its own dtype and returned in the dtype
    the module was moved to; an [N, 1] output becomes [N]."""

    def __init__(self, program_format, size, sha256, dtype="float32", rows_per_call=ANY_ROWS):
        super().__init__()
        if program_format not in LOADERS:
            raise ProgramError(f"unknown program format {program_format!r}")
        self.program_format, self.sha256 = program_format, sha256
        self.compute_dtype = getattr(torch, dtype)
        self.rows_per_call = int(rows_per_call)
        self.output_dtype = torch.float32
        self.register_buffer("program", torch.zeros(int(size), dtype=torch.uint8))
        self.register_load_state_dict_post_hook(BroughtProgram.load_program)
        # Kept out of nn.Module's registry, so .to(float64) leaves the program as exported.
        object.__setattr__(self, "loaded", None)

    @staticmethod
    def load_program(module, incompatible_keys):
        """After load_state_dict: the buffer's bytes, once their sha256 matches → the program."""
        data = module.program.cpu().numpy().tobytes()
        if hashlib.sha256(data).hexdigest() != module.sha256:
            raise ProgramError(f"the {module.program_format} in this checkpoint does not match "
                               "its sha256; the checkpoint was altered or truncated")
        loaded = LOADERS[module.program_format](data, "the checkpoint's program")
        # An exported program keeps the mode it was exported in (its module() refuses eval()).
        loaded = loaded.module() if module.program_format == EXPORTED_PROGRAM else loaded.eval()
        object.__setattr__(module, "loaded", loaded)

    def to(self, *args, **kwargs):
        """Moves the program to a device; a dtype only sets the dtype answers come back in."""
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        if dtype is not None:
            self.output_dtype = dtype
        if device is not None and self.loaded is not None:
            self.loaded.to(device)
        return super().to(*args, **kwargs)

    def run(self, inputs):
        """Inputs in the program's dtype → its output, rows_per_call rows at a time."""
        if not self.rows_per_call:
            return self.loaded(*inputs)
        return torch.cat([self.loaded(*parts) for parts in zip(
            *(part.split(self.rows_per_call) for part in inputs))])

    def forward(self, *inputs):
        if self.loaded is None:
            raise ProgramError("the program is loaded with the state_dict; call load_state_dict")
        inputs = [part.to(self.compute_dtype) if part.is_floating_point() else part
                  for part in inputs]
        output = self.run(inputs)
        if not isinstance(output, torch.Tensor):
            raise ProgramError(f"the program answers a {type(output).__name__}; the family's "
                               "handler reads one tensor: save a model whose forward returns one")
        output = one_row_per_example(output)
        return output.to(self.output_dtype) if output.is_floating_point() else output
