"""The command-line flags every training script shares; each script adds its own to the parser."""

import argparse

import torch


def training_parser(doc, *, epochs, batch_size, lr, optimizer, seed, version, out, patience=None,
                    data=None):
    """Script docstring and its defaults → a parser with the shared flags (--data when the family
    trains on data of its own); unknown or abbreviated flags fail loudly."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"{'most ' if patience else ''}epochs (default {epochs})")
    parser.add_argument("--batch-size", type=int, default=batch_size,
                        help=f"training batch size (default {batch_size})")
    parser.add_argument("--lr", type=float, default=lr,
                        help=f"{optimizer} learning rate (default {lr})")
    if patience is not None:
        parser.add_argument("--patience", type=int, default=patience,
                            help=f"early-stopping patience in epochs (default {patience})")
    parser.add_argument("--seed", type=int, default=seed,
                        help=f"seed for the split, initialization, batch order and augmentation "
                             f"(default {seed})")
    parser.add_argument("--version", default=version,
                        help=f"model version recorded in the checkpoint (default {version})")
    parser.add_argument("--out", default=out, help=f"output directory (default {out})")
    if data is not None:
        parser.add_argument("--data", default=data,
                            help=f"train on this data, copied into {data} first (default: the "
                                 "copy there)")
    parser.add_argument("--dry-run", action="store_true",
                        help="one quick pass on a small subset, to check the pipeline end to end")
    return parser


def seeded_run(seed: int, threads=None):
    """A training run's start: torch on `threads` threads (when given), its global generator
    seeded, and → a generator of its own for the split and batch order, seeded alike."""
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
