"""digits_gan: a class-conditional GAN that draws a requested digit in the digits_cnn input format.

The single source of truth for the family: training imports it, every
`.mar` ships it, and serving and evaluation both turn a request into PNGs
through `request_noise` → `generate` → `render_pngs`, so the images the
classifier judged at training time are the images the server returns.
"""

import io
import struct
import zlib

import torch
from PIL import Image
from torch import nn

from models.digits_cnn import IMAGE_SIZE, MAX_INK, gray_levels

LABELS = tuple(str(d) for d in range(10))
NOISE_DIM = 32
MAX_COUNT = 16  # images per request
MAX_SEED = 2**63 - 1  # seeds are int64, like torch.Generator.manual_seed takes


def ink_to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """Ink on 0–16 → values on -1…1, the range the generator's tanh produces."""
    return pixels * (2.0 / MAX_INK) - 1.0


class DigitsGenerator(nn.Module):
    """(noise [N, noise_dim], digit labels [N]) → [N, 1, 8, 8] images, ink on 0–16."""

    def __init__(self, noise_dim=NOISE_DIM, hidden=(128, 256), embedding_dim=16,
                 num_classes=len(LABELS)):
        super().__init__()
        self.noise_dim = noise_dim
        self.label_embedding = nn.Embedding(num_classes, embedding_dim)
        h1, h2 = hidden
        # No batch norm: each image depends on its own noise and label only.
        self.net = nn.Sequential(
            nn.Linear(noise_dim + embedding_dim, h1), nn.LeakyReLU(0.2),
            nn.Linear(h1, h2), nn.LeakyReLU(0.2),
            nn.Linear(h2, IMAGE_SIZE * IMAGE_SIZE), nn.Tanh(),
        )

    def forward(self, noise, labels):
        unit = self.net(torch.cat([noise, self.label_embedding(labels)], dim=1))
        return ((unit + 1.0) * (MAX_INK / 2.0)).view(-1, 1, IMAGE_SIZE, IMAGE_SIZE)


class DigitsDiscriminator(nn.Module):
    """([N, 1, 8, 8] ink on 0–16, digit labels [N]) → [N] logits that the image is a real such digit.

    Used in training only; the checkpoint keeps the generator.
    """

    def __init__(self, hidden=(256, 128), embedding_dim=16, dropout=0.3,
                 num_classes=len(LABELS)):
        super().__init__()
        self.label_embedding = nn.Embedding(num_classes, embedding_dim)
        h1, h2 = hidden
        # Dropout keeps the discriminator from winning outright on ~1,500 images.
        self.net = nn.Sequential(
            nn.Linear(IMAGE_SIZE * IMAGE_SIZE + embedding_dim, h1), nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(h1, h2), nn.LeakyReLU(0.2), nn.Dropout(dropout),
            nn.Linear(h2, 1),
        )

    def forward(self, pixels, labels):
        features = torch.cat([ink_to_unit(pixels).flatten(1), self.label_embedding(labels)], dim=1)
        return self.net(features).squeeze(1)


ARCHITECTURE = DigitsGenerator  # what models.checkpoint builds for a digits_gan checkpoint


def request_noise(seed: int, count: int, noise_dim=NOISE_DIM) -> torch.Tensor:
    """(seed, count) → [count, noise_dim] standard normal noise, drawn on the CPU from that seed alone."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    return torch.randn(count, noise_dim, generator=generator)


def generate(model: DigitsGenerator, noise: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(noise [N, noise_dim], labels [N]) → [N, 1, 8, 8] ink, one image per forward pass.

    Batched matrix products may sum in a different order for a different
    batch shape; one image at a time, an image's pixels depend on its own
    noise and label only, whatever shares the batch.
    """
    with torch.inference_mode():
        return torch.cat([model(noise[i:i + 1], labels[i:i + 1]) for i in range(len(labels))])


def png_chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk's type and data → the chunk: length, type, data, CRC-32 of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


# Every image is an 8×8 8-bit grayscale PNG of three chunks, as Pillow writes it: the signature,
# the header and the end never change, and the data is Pillow's own zlib stream of the pixels.
PNG_START = b"\x89PNG\r\n\x1a\n" + png_chunk(
    b"IHDR", struct.pack(">IIBBBBB", IMAGE_SIZE, IMAGE_SIZE, 8, 0, 0, 0, 0))  # 8 bits, gray
PNG_END = png_chunk(b"IEND", b"")


def render_pngs(pixels: torch.Tensor) -> list:
    """[N, 1, 8, 8] or [N, 8, 8] ink on 0–16 → N 8×8 grayscale PNGs, light ink on black like
    load_digits: byte for byte what Image.save(format="PNG") writes, the gray levels of all N
    computed at once and each image's data compressed by the encoder Pillow's PNG writer uses."""
    levels = gray_levels(pixels.detach().cpu().reshape(-1, IMAGE_SIZE, IMAGE_SIZE).numpy())
    image, pngs = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE)), []
    for level in levels:  # one Pillow image, its pixels replaced for each
        image.frombytes(level.tobytes())
        pngs.append(PNG_START + png_chunk(b"IDAT", image.tobytes("zip", "L")) + PNG_END)
    return pngs


def render_png(pixels: torch.Tensor) -> bytes:
    """[1, 8, 8] or [8, 8] ink on 0–16 → 8×8 grayscale PNG bytes, light ink on black like load_digits."""
    return render_pngs(pixels)[0]


def generate_pngs(model: DigitsGenerator, digit: int, count: int, seed: int) -> list:
    """(digit, count, seed) → `count` PNG images, exactly as the server answers that request."""
    noise = request_noise(seed, count, model.noise_dim)
    labels = torch.full((count,), digit, dtype=torch.long)
    return render_pngs(generate(model, noise, labels))


def decode_png(data: bytes) -> Image.Image:
    """PNG bytes → the decoded Pillow image."""
    image = Image.open(io.BytesIO(data), formats=["PNG"])
    image.load()
    return image
