"""The sentiment_rnn handler against the one it replaced (bench/handlers_before/sentiment_rnn.py):
on test-split reviews, the hand-written ones and a seeded mix of near misses, in batches as the
server forms them, the same answer to every request, every refusal in the same words."""

import json
import random

import torch

from bench.handlers_before.sentiment_rnn import HANDLER as HandlerBefore
from families.sentiment_rnn import HAND_WRITTEN, bodies
from handlers import handler_class
from handlers.messages import Request
from handlers.sentiment_rnn import sigmoid_one_by_one
from models.checkpoint import load_checkpoint
from tests.in_process import assert_answers_unchanged

BATCH_SIZE = 16  # model-config's batchSize
# Pieces a client's text may hold: words the vocabulary knows and does not, negations, curly
# apostrophes, fullwidth letters, controls, zero-width and white space of every kind.
PIECES = ["good", "bad", "not", "isn't", "didn’t", "never", "excellent", "meh", "!", "?", ",",
          "Ｆｕｌｌ", "ﬁne", "naïve", "\u200b", "\x00", "\t", "\n", "\u00a0", "  ", "rock'n'roll",
          "supercalifragilisticexpialidocious", "2024", "😀", "\ud800", "x" * 30]


def near_misses(texts, count, seed=0) -> list:
    """Requests like a client's: reviews as text or JSON, spoilt now and then, a few envelopes."""
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        words = rng.choice(texts).split() + [rng.choice(PIECES) for _ in range(rng.randint(0, 4))]
        rng.shuffle(words)
        text = " ".join(words) if rng.random() < 0.95 else rng.choice(["", "   ", "x" * 1001, "\x00"])
        kind = rng.random()
        if kind < 0.5:
            requests.append(Request(text.encode("utf-8", "surrogatepass"), "text/plain"))
        elif kind < 0.8:
            requests.append(Request(json.dumps({"text": text}).encode(), "application/json"))
        elif kind < 0.9:
            requests.append(Request({"text": text}, "application/json", parsed=True))
        else:
            requests.append(Request(json.dumps({"instances": [text, rng.choice(texts)]}).encode(),
                                    "application/json"))
    return requests


def test_answers_and_refusals_are_the_replaced_handlers(checkpoint_dir):
    good, bad = bodies(load_checkpoint(checkpoint_dir / "sentiment_rnn" / "model.pt"), 300)
    texts = [text for text, _ in HAND_WRITTEN] + [body.decode() for body, kind in good
                                                  if kind == "text/plain"]
    requests = [Request(body, content_type) for body, content_type in good + bad]
    requests += near_misses(texts, 700)
    assert_answers_unchanged("sentiment_rnn", checkpoint_dir, requests, BATCH_SIZE)


def test_each_logit_gets_the_sigmoid_it_gets_alone():
    logits = torch.randn(20_000, generator=torch.Generator().manual_seed(0)) * 6
    alone = [float(torch.sigmoid(logit[0])) for logit in logits.split(1)]
    assert sigmoid_one_by_one(logits) == alone


def test_inputs_are_collated_as_the_replaced_handler_collates_them(checkpoint_dir):
    path = checkpoint_dir / "sentiment_rnn" / "model.pt"
    handler, before = (handler_class("sentiment_rnn").from_checkpoint_file(path),
                       HandlerBefore.from_checkpoint_file(path))
    texts = [text for text, _ in HAND_WRITTEN]
    expected = [before.preprocess(text) for text in texts]
    together = handler.preprocess_batch(texts)
    longest = max(range(len(texts)), key=lambda index: int(expected[index][1][0]))
    others = [index for index in range(len(texts)) if index != longest]
    for inputs, expected_inputs in [
            (together, expected),  # one batch, as the server prepares it
            ([together[i] for i in others], [expected[i] for i in others]),  # its longest left out
            ([handler.preprocess(text) for text in texts], expected)]:  # each prepared alone
        for got, wanted in zip(handler.collate(inputs), before.collate(expected_inputs)):
            assert torch.equal(got, wanted)
