"""Train digits_gan, a class-conditional GAN on scikit-learn's digits, judged by the digits_cnn classifier.

    python -m training.digits_gan                 # about 30 s on 2 CPU cores
    python -m training.digits_gan --dry-run --out /tmp/digits_gan

Needs a trained digits_cnn (--classifier). Writes model.pt (the averaged generator),
metrics.json and samples.png into --out.
"""

import time
from pathlib import Path

import torch
from torch import nn

from models.checkpoint import save_checkpoint
from models.digits_cnn import IMAGE_SIZE, MAX_INK
from models.digits_gan import (LABELS, MAX_COUNT, MAX_SEED, NOISE_DIM, DigitsDiscriminator,
                               DigitsGenerator)
from training.cli import training_parser
from training.digits_data import load_digit_splits
from training.digits_gan_evaluation import (REQUESTS_PER_DIGIT, ClassifierMissing,
                                            labeled_as_requested, load_classifier,
                                            plot_sample_grid, within_digit_spread)
from training.evaluation import write_json

# The averaged generator is readable after about 60 epochs; later epochs add variety.
EPOCHS = 200
BATCH_SIZE = 64
LEARNING_RATE = 2e-4  # Adam, for both networks: the usual GAN setting
BETAS = (0.5, 0.999)  # a short momentum memory keeps up with the moving adversary
REAL_LABEL = 0.9  # one-sided label smoothing: the discriminator never gets sure of real images
# The served generator is an exponential moving average of the trained one's
# weights: the raw generator swings as it chases the discriminator (83–97% of
# its images readable from one check to the next), the average holds at 97–99%.
AVERAGE_DECAY = 0.998  # per step; 24 steps an epoch, so it remembers the last ~20 epochs
TARGET = 0.80  # least share of generated images the classifier must read as the requested digit
# Matrices this small gain nothing from a second thread, and on a busy shared
# CPU the hand-offs between threads made epochs many times slower.
THREADS = 1
SEED = 0
VERSION = "1.0"
OUT = "checkpoints/digits_gan"
GENERATOR_ARGS = {"noise_dim": NOISE_DIM, "hidden": (128, 256), "embedding_dim": 16,
                  "num_classes": len(LABELS)}
DISCRIMINATOR_ARGS = {"hidden": (256, 128), "embedding_dim": 16, "dropout": 0.3,
                      "num_classes": len(LABELS)}


def parse_args(argv=None):
    parser = training_parser(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                             optimizer="Adam (both networks)", seed=SEED, version=VERSION, out=OUT)
    parser.add_argument("--classifier", default=None,
                        help="digits_cnn checkpoint judging the samples (default: digits_cnn/model.pt "
                             "beside --out, so checkpoints/seed-3/digits_gan is judged by "
                             "checkpoints/seed-3/digits_cnn)")
    args = parser.parse_args(argv)
    if args.classifier is None:
        args.classifier = str(Path(args.out).parent / "digits_cnn" / "model.pt")
    return args


def training_images(classifier_checkpoint, limit=None):
    """The classifier's split → (train + validation pixels [N, 1, 8, 8] on 0–16, labels [N], data info).

    The split seed comes from the classifier, so its test images stay unseen
    by the generator too; a GAN has no use for a validation split, so those
    images train it as well.
    """
    split_seed = classifier_checkpoint["data"]["split"]["seed"]
    splits = load_digit_splits(seed=split_seed, limit=limit)
    pixels = torch.cat([splits.train_x, splits.val_x])
    labels = torch.cat([splits.train_y, splits.val_y])
    data = {**splits.data_info, "used": "train+validation", "images": len(labels)}
    print(f"training the GAN on {len(labels)} train+validation images "
          f"(split seed {split_seed}, as the classifier)")
    return pixels, labels, data


def train_epoch(generator, discriminator, g_optimizer, d_optimizer, pixels, labels, *,
                batch_size, rng, average=None, max_batches=None):
    """One pass over the images → mean discriminator and generator loss; updates `average` too."""
    loss_fn = nn.BCEWithLogitsLoss()
    generator.train()
    discriminator.train()
    order = torch.randperm(len(labels), generator=rng)
    d_total = g_total = 0.0
    steps = 0
    for step, start in enumerate(range(0, len(order), batch_size)):
        if max_batches is not None and step >= max_batches:
            break
        index = order[start:start + batch_size]
        real, real_digits = pixels[index], labels[index]
        n = len(index)
        noise = torch.randn(n, generator.noise_dim, generator=rng)
        fake_digits = torch.randint(0, len(LABELS), (n,), generator=rng)
        fake = generator(noise, fake_digits)

        d_optimizer.zero_grad(set_to_none=True)
        d_loss = (loss_fn(discriminator(real, real_digits), torch.full((n,), REAL_LABEL))
                  + loss_fn(discriminator(fake.detach(), fake_digits), torch.zeros(n)))
        d_loss.backward()
        d_optimizer.step()

        g_optimizer.zero_grad(set_to_none=True)
        g_loss = loss_fn(discriminator(fake, fake_digits), torch.ones(n))
        g_loss.backward()
        g_optimizer.step()
        if average is not None:
            average.update_parameters(generator)

        d_total += d_loss.item()
        g_total += g_loss.item()
        steps += 1
    return d_total / max(steps, 1), g_total / max(steps, 1)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    try:
        classifier, classifier_checkpoint = load_classifier(args.classifier)
    except ClassifierMissing as error:
        raise SystemExit(f"error: {error}") from None
    torch.set_num_threads(THREADS)
    torch.manual_seed(args.seed)
    rng = torch.Generator().manual_seed(args.seed)

    pixels, labels, data = training_images(classifier_checkpoint,
                                           limit=400 if args.dry_run else None)
    generator = DigitsGenerator(**GENERATOR_ARGS)
    average = torch.optim.swa_utils.AveragedModel(
        generator, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(AVERAGE_DECAY))
    discriminator = DigitsDiscriminator(**DISCRIMINATOR_ARGS)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=args.lr, betas=BETAS)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=args.lr, betas=BETAS)

    epochs = 1 if args.dry_run else args.epochs
    history = []
    for epoch in range(1, epochs + 1):
        epoch_started = time.perf_counter()
        d_loss, g_loss = train_epoch(generator, discriminator, g_optimizer, d_optimizer, pixels,
                                     labels, batch_size=args.batch_size, rng=rng,
                                     average=average, max_batches=2 if args.dry_run else None)
        history.append({"epoch": epoch, "d_loss": d_loss, "g_loss": g_loss})
        print(f"epoch {epoch:3d}/{epochs}  d_loss {d_loss:.4f}  g_loss {g_loss:.4f}  "
              f"({time.perf_counter() - epoch_started:.2f}s)")
    generator = average.module.eval()

    judged = labeled_as_requested(generator, classifier,
                                  requests_per_digit=1 if args.dry_run else REQUESTS_PER_DIGIT)
    metrics = {
        "labeled_as_requested": judged["overall"],
        "per_digit": judged["per_digit"],
        "target": TARGET,
        "meets_target": judged["overall"] >= TARGET,
        "judged_by": {"family": "digits_cnn", "path": str(args.classifier),
                      "version": classifier_checkpoint["version"],
                      "created_at": classifier_checkpoint["created_at"],
                      "test_accuracy": classifier_checkpoint["metrics"]["accuracy"]},
        # Mean distance between two images of one digit: the generator's should come near
        # the real images' (a generator that found one way to draw each digit scores near 0).
        "spread": {"generated": judged["spread"], "real": within_digit_spread(pixels, labels)},
        **{key: judged[key] for key in ("images_per_digit", "requests", "confusion_matrix")},
        "epochs_trained": len(history),
    }
    shares = "  ".join(f"{digit}:{share:.2f}" for digit, share in judged["per_digit"].items())
    print(f"labeled as the requested digit by digits_cnn: {judged['overall']:.4f} overall "
          f"(target {TARGET}); per digit {shares}")
    print(f"spread within a digit: generated {metrics['spread']['generated']:.2f}, "
          f"real {metrics['spread']['real']:.2f}")
    if not metrics["meets_target"]:
        print(f"warning: below the {TARGET:.0%} target; train longer or with another --seed")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        out / "model.pt", family="digits_gan", version=args.version, model=generator,
        model_args=GENERATOR_ARGS, labels=LABELS, metrics=metrics, data=data,
        preprocessing={"input": "noise and digit label", "noise": "standard normal from "
                       "torch.Generator(cpu).manual_seed(request seed)", "noise_dim": NOISE_DIM,
                       "output": "models.digits_gan.render_png", "image_size": IMAGE_SIZE,
                       "max_ink": MAX_INK, "max_count": MAX_COUNT, "max_seed": MAX_SEED,
                       "training_images": "models.digits_cnn.prepare_digit_image"},
        training={"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                  "betas": list(BETAS), "real_label": REAL_LABEL,
                  "average_decay": AVERAGE_DECAY, "seed": args.seed,
                  "optimizer": "Adam", "loss": "BCEWithLogitsLoss",
                  "discriminator": DISCRIMINATOR_ARGS, "dry_run": args.dry_run,
                  "history": history})
    write_json(out / "metrics.json", metrics)
    plot_sample_grid(generator, out / "samples.png")
    print(f"wrote {out}/model.pt, metrics.json, samples.png "
          f"in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
