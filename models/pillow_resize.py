"""Pillow's resize and reduce of float32 pictures, as array operations over a stack of them.

`Image.fromarray(picture).resize(...)` and `.reduce(...)` cost a Pillow image
and two copies per picture; these give the same float32 values, to the last
bit, for a whole stack of same-size pictures at once. Only what digits_cnn's
preprocessing uses is here: NEAREST enlarging, BOX shrinking, and reducing by
an even factor. Each follows Pillow's own arithmetic (its coordinates, its
rounding to float32 between passes, its order of additions), which is why the
code looks the way it does; tests/test_pillow_resize.py holds it to the
installed Pillow.
"""

import functools

import numpy as np


@functools.lru_cache(maxsize=1024)
def _nearest_sources(size: int, fitted: int) -> np.ndarray:
    """A line of `size` pixels enlarged to `fitted` → the source pixel of each output pixel, as
    Pillow's NEAREST picks it: int(x) for x stepping by size / fitted from half a step, summed
    step by step in float64 as Pillow sums it."""
    step = size / fitted
    sources = np.cumsum(np.r_[step * 0.5, np.full(fitted - 1, step)]).astype(np.intp)
    sources.flags.writeable = False  # shared by every stack of this size
    return sources


@functools.lru_cache(maxsize=1024)
def _box_taps(size: int, fitted: int) -> tuple:
    """A line of `size` pixels shrunk to `fitted` by Pillow's BOX → (first, averaged, taps): the
    first pixel of each output's box (all of it, for most outputs of a mild shrink), the outputs
    whose box holds more pixels, and for those the taps [(positions into `averaged`, pixels,
    weights)], the j-th adding each box's j-th pixel weighted 1 / the box's count.

    Box bounds are computed as Pillow computes them, so a pixel on the edge
    of two boxes falls into the same one.
    """
    step = size / fitted
    centres = (np.arange(fitted) + 0.5) * step
    first = np.maximum((centres - 0.5 * step + 0.5).astype(np.intp), 0)
    last = np.minimum((centres + 0.5 * step + 0.5).astype(np.intp), size)
    pixels = first + np.arange((last - first).max())[:, None]
    offsets = (pixels - centres + 0.5) * (1.0 / step)
    covered = (pixels < last) & (offsets > -0.5) & (offsets <= 0.5)
    counts = covered.sum(axis=0)
    # A box's loop may start on a pixel it does not cover: its covered pixels, in order.
    box_pixels = np.take_along_axis(pixels, np.argsort(~covered, axis=0, kind="stable"), axis=0)
    averaged = np.flatnonzero(counts > 1)
    taps = []
    for tap in range(counts.max()):
        reached = counts[averaged] > tap
        taps.append((np.flatnonzero(reached), box_pixels[tap, averaged[reached]],
                     1.0 / counts[averaged[reached]]))
    return box_pixels[0], averaged, taps


def _shrink(stack: np.ndarray, axis: int, fitted: int) -> np.ndarray:
    """Pictures [N, H, W] float32 → shrunk to `fitted` along `axis` (1: down, 2: across) as one pass
    of Pillow's BOX: each output pixel summed in float64 in pixel order, then float32."""
    first, averaged, taps = _box_taps(stack.shape[axis], fitted)
    shrunk = np.take(stack, first, axis=axis)  # a box of one pixel is that pixel
    if len(averaged):
        along = (slice(None),) * axis
        shape = [1, 1, 1]
        total = None
        for positions, pixels, weights in taps:  # the first tap reaches every averaged output
            shape[axis] = len(positions)
            terms = np.take(stack, pixels, axis=axis) * weights.reshape(shape)  # float64
            if total is None:
                total = terms
            else:
                total[along + (positions,)] += terms
        shrunk[along + (averaged,)] = total
    return shrunk


def resize(stack: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pictures [N, h, w] float32 → [N, height, width] float32, as Pillow's resize to that size gives
    each: NEAREST when both sides grow (or keep their size), BOX when both shrink (or keep)."""
    old_height, old_width = stack.shape[1:]
    if height >= old_height and width >= old_width:  # NEAREST copies pixels: pick them
        return stack[:, _nearest_sources(old_height, height)][:, :, _nearest_sources(old_width, width)]
    if height > old_height or width > old_width:
        raise ValueError("resize either grows both sides (NEAREST) or shrinks both (BOX)")
    # Two passes, each rounded to float32. Pillow 13 shrinks down first when the height loses
    # more than twice as many pixels as the width, else across first.
    if old_height - height > 2 * (old_width - width):
        return _shrink(_shrink(stack, 1, height), 2, width)
    return _shrink(_shrink(stack, 2, width), 1, height)


def reduce(stack: np.ndarray, factor: int) -> np.ndarray:
    """Pictures [N, H, W] float32, H and W multiples of an even `factor` → [N, H / factor,
    W / factor] float32 block means, as Pillow's reduce(factor) gives each: every 2×2 square of
    pixels summed in float32, a block's squares summed in float64 row by row, then float32."""
    if factor % 2 or stack.shape[1] % factor or stack.shape[2] % factor:
        raise ValueError("reduce takes an even factor that divides both sides")
    squares = stack[:, 0::2, 0::2] + stack[:, 0::2, 1::2]
    squares += stack[:, 1::2, 0::2]
    squares += stack[:, 1::2, 1::2]
    side = factor // 2  # squares per block side
    count, rows, cols = squares.shape
    per_block = squares.reshape(count, rows // side, side, cols // side, side)
    sums = per_block[:, :, 0, :, 0].astype(np.float64)
    for row, col in np.ndindex(side, side):
        if row or col:
            sums += per_block[:, :, row, :, col]
    return (sums * (1.0 / factor ** 2)).astype(np.float32)
