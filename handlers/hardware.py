"""Where a worker computes: its device, and how many torch threads it may use without
oversubscribing the CPUs it shares with the other workers."""

import os

# torch is imported where a device is picked, not here: archive.sh, the client and the tools
# read the thread rule below, and importing torch would add seconds to each of their starts.


def pick_device(gpu_id=None):
    """GPU id assigned by the server (or None) → cuda:<id> when CUDA is present, else the CPU."""
    import torch

    if gpu_id is not None and torch.cuda.is_available():
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


# cgroup v2's CPU limit: "<quota> <period>" in microseconds, or "max <period>" for none.
CPU_QUOTA_FILE = "/sys/fs/cgroup/cpu.max"


def usable_cores(quota_file=None) -> int:
    """→ the cores this process may use: its CPU affinity, capped by a container's CPU limit
    (a pod limited to 2 CPUs on a 64-core node sees 64 cores in its affinity)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    try:
        with open(quota_file or CPU_QUOTA_FILE) as file:
            quota, period = file.read().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass  # no cgroup v2 limit to read: the affinity is the limit
    return cores


def threads_per_worker(workers: int, cores=None) -> int:
    """Worker count → intra-op threads, so that workers × threads never exceeds the usable cores."""
    cores = usable_cores() if cores is None else cores
    return max(1, cores // max(1, int(workers)))


def worker_threads(settings: dict, cores=None) -> int:
    """A model's model-config settings → the torch threads each of its workers runs:
    handler.torch_threads when set, else the usable cores shared by maxWorkers."""
    chosen = (settings.get("handler") or {}).get("torch_threads")
    return int(chosen or threads_per_worker(settings.get("maxWorkers", 1), cores))


def to_device(batch, device):
    """Tensor or tuple of tensors → the same on `device`."""
    if isinstance(batch, tuple):
        return tuple(part.to(device) for part in batch)
    return batch.to(device)
