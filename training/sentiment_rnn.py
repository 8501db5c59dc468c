"""Train sentiment_rnn on a text,label CSV and write a versioned checkpoint with its evaluation.

    python -m training.sentiment_rnn                 # about 20 s on 2 CPU cores
    python -m training.sentiment_rnn --data my_reviews.csv --out checkpoints/my_sentiment
    python -m training.sentiment_rnn --dry-run --out /tmp/sentiment_rnn

Writes model.pt, metrics.json and training_curve.png into --out.
"""

import time
from pathlib import Path

import torch
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
from torch import nn

from models.checkpoint import save_checkpoint
from models.sentiment_rnn import (LABELS, MAX_TEXT_CHARS, MAX_TOKENS, MIN_FREQUENCY,
                                  NORMALIZATION_STEPS, PAD, UNK, SentimentRNN, pad_token_ids)
from training.cli import training_parser
from training.evaluation import classification_metrics, plot_training_curve, write_json
from training.loop import fit
from training.sentiment_data import (DEFAULT_DATA, build_vocabulary, display_path,
                                     load_sentiment_splits)

# Defaults give a ≥90% test accuracy model on a laptop CPU in well under a minute.
EPOCHS = 15  # upper bound; early stopping usually ends sooner
BATCH_SIZE = 32
LEARNING_RATE = 3e-3  # Adam
WEIGHT_DECAY = 0.0  # dropout and early stopping regularize enough
PATIENCE = 4  # epochs without a better validation loss before stopping
EMBEDDING_DIM = 64
HIDDEN_SIZE = 64  # per direction
DROPOUT = 0.3  # on the GRU's final states, before the output layer
# A small GRU's matrices are too small to share among cores: more threads only
# add synchronization (measured 15x slower with 2 threads on 2 busy cores).
TORCH_THREADS = 1
SEED = 0
VERSION = "1.0"
OUT = "checkpoints/sentiment_rnn"
DRY_RUN_ROWS = 300


def parse_args(argv=None):
    parser = training_parser(__doc__, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LEARNING_RATE,
                             optimizer="Adam", patience=PATIENCE, seed=SEED, version=VERSION,
                             out=OUT)
    parser.add_argument("--data", default=str(DEFAULT_DATA),
                        help=f"CSV with columns text,label (default {display_path(DEFAULT_DATA)})")
    parser.add_argument("--min-frequency", type=int, default=MIN_FREQUENCY,
                        help=f"times a word must appear in the training split to enter the "
                             f"vocabulary (default {MIN_FREQUENCY})")
    return parser.parse_args(argv)


def encode_texts(model: SentimentRNN, texts) -> torch.Tensor:
    """Cleaned texts → [N, longest] token ids padded with PAD_ID, through the serving tokenizer."""
    return pad_token_ids([model.encode(text) for text in texts])[0]


def predict_probabilities(model: SentimentRNN, texts, batch_size=512) -> torch.Tensor:
    """Cleaned texts → [N] probabilities of "positive", in eval mode."""
    model.eval()
    chunks = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            ids, lengths = pad_token_ids([model.encode(text)
                                          for text in texts[start:start + batch_size]])
            chunks.append(torch.sigmoid(model(ids, lengths)))
    return torch.cat(chunks)


def binary_metrics(labels, probabilities) -> dict:
    """Label ids and probabilities of "positive" → accuracy, precision, recall, F1, ROC AUC and more."""
    predicted = (probabilities >= 0.5).long().tolist()
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, average="binary",
                                                               pos_label=1, zero_division=0)
    metrics = classification_metrics(labels, predicted, LABELS)
    metrics.update({
        "precision": float(precision), "recall": float(recall), "f1": float(f1),
        # ROC AUC needs both labels; a tiny dry-run split might hold one only.
        "roc_auc": float(roc_auc_score(labels, probabilities.tolist())) if len(set(labels)) > 1
        else None,
        "positive_label": LABELS[1], "threshold": 0.5, "split": "test", "rows": len(labels),
    })
    return metrics


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    torch.set_num_threads(TORCH_THREADS)
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)

    splits = load_sentiment_splits(args.data, seed=args.seed,
                                   limit=DRY_RUN_ROWS if args.dry_run else None)
    # The vocabulary comes from the training split only: validation and test
    # words it never saw read as UNK, exactly as unseen words do when served.
    vocabulary = build_vocabulary(splits.train_texts, args.min_frequency)
    print(f"vocabulary: {len(vocabulary)} tokens (min frequency {args.min_frequency}, "
          f"with {PAD} and {UNK})")
    model_args = {"vocabulary": vocabulary, "embedding_dim": EMBEDDING_DIM,
                  "hidden_size": HIDDEN_SIZE, "dropout": DROPOUT, "max_tokens": MAX_TOKENS}
    model = SentimentRNN(**model_args)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr, weight_decay=WEIGHT_DECAY)

    # fit calls model(ids) alone: the model counts each text's non-padding ids.
    history = fit(model, nn.BCEWithLogitsLoss(), optimizer,
                  encode_texts(model, splits.train_texts), torch.tensor(splits.train_labels).float(),
                  encode_texts(model, splits.val_texts), torch.tensor(splits.val_labels).float(),
                  epochs=1 if args.dry_run else args.epochs, batch_size=args.batch_size,
                  patience=args.patience, generator=generator,
                  max_batches=2 if args.dry_run else None)

    metrics = binary_metrics(splits.test_labels, predict_probabilities(model, splits.test_texts))
    metrics["epochs_trained"] = len(history)
    metrics["cleaning"] = splits.data_info["cleaning"]
    auc = "n/a" if metrics["roc_auc"] is None else f"{metrics['roc_auc']:.4f}"
    print(f"test accuracy {metrics['accuracy']:.4f}, precision {metrics['precision']:.4f}, "
          f"recall {metrics['recall']:.4f}, F1 {metrics['f1']:.4f}, ROC AUC {auc} "
          f"on {len(splits.test_labels)} texts")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(
        out / "model.pt", family="sentiment_rnn", version=args.version, model=model,
        model_args=model_args, labels=LABELS, metrics=metrics, data=splits.data_info,
        preprocessing={"normalize": "models.sentiment_rnn.normalize_text",
                       "steps": [name for name, _ in NORMALIZATION_STEPS],
                       "tokenizer": "models.sentiment_rnn.tokenize", "lower_case": True,
                       "vocabulary": "model_args.vocabulary", "vocabulary_size": len(vocabulary),
                       "min_frequency": args.min_frequency, "pad_token": PAD, "unk_token": UNK,
                       "max_tokens": MAX_TOKENS, "max_text_chars": MAX_TEXT_CHARS},
        training={"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr,
                  "weight_decay": WEIGHT_DECAY, "patience": args.patience, "seed": args.seed,
                  "optimizer": "Adam", "loss": "BCEWithLogitsLoss", "dry_run": args.dry_run,
                  "torch_threads": TORCH_THREADS,
                  "history": history})
    write_json(out / "metrics.json", metrics)
    plot_training_curve(history, out / "training_curve.png", "sentiment_rnn")
    print(f"wrote {out}/model.pt, metrics.json, training_curve.png "
          f"in {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
