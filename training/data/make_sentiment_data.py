"""Write training/data/sentiment.csv: short English reviews labeled positive/negative, plus some dirty rows.

    python training/data/make_sentiment_data.py            # rewrites the committed file, byte for byte
    python training/data/make_sentiment_data.py --out /tmp/s.csv --rows 500 --seed 1

Reviews are composed from phrase banks (subjects and aspects from products,
services, places, films, food, apps and books; positive and negative
phrasings; intensifiers; negations such as "not good" and "never
disappointed"; contrasts "X but Y" where the clause after "but" decides), so
every label is correct by construction. A small share of rows is then made
deliberately dirty, for the training pipeline's cleaning to find: control,
zero-width and other illegal characters, non-NFKC forms (fullwidth letters,
non-breaking spaces, ligatures), runs of white space, duplicates (exact and
only after normalization), missing texts or labels and unknown labels.
Only the standard library is used, so the output depends on the seed alone.
"""

import argparse
import csv
import random
import re
from pathlib import Path

OUT = Path(__file__).resolve().parent / "sentiment.csv"
ROWS = 5000  # clean, distinct reviews; the dirty rows come on top
SEED = 20240601

# (subjects, aspects); an aspect ending in "+" is plural ("the staff were").
DOMAINS = {
    "product": (["phone", "laptop", "blender", "vacuum cleaner", "backpack", "camera", "printer",
                 "kettle", "tablet", "smartwatch", "mattress", "coffee machine"],
                ["battery life", "build quality", "screen", "sound", "design", "charger",
                 "keyboard", "price", "instructions+", "buttons+", "speakers+"]),
    "service": (["delivery service", "bank", "plumber", "hair salon", "repair shop",
                 "internet provider", "airline", "taxi company", "insurance company", "gym"],
                ["staff+", "customer support", "response time", "booking process", "price",
                 "communication", "support team", "waiting time", "fees+"]),
    "place": (["hotel", "museum", "beach", "campsite", "library", "theme park", "airport",
               "zoo", "spa", "guesthouse"],
              ["room", "view", "location", "staff+", "cleanliness", "atmosphere", "parking",
               "breakfast", "beds+", "rooms+"]),
    "film": (["movie", "film", "documentary", "series", "show", "cartoon", "thriller", "comedy",
              "musical", "play"],
             ["plot", "acting", "soundtrack", "ending", "dialogue", "pacing", "special effects+",
              "cast", "story", "jokes+"]),
    "food": (["restaurant", "pizza", "burger", "cafe", "bakery", "sushi bar", "food truck",
              "pub", "steakhouse", "noodle shop"],
             ["taste", "portions+", "service", "coffee", "dessert", "menu", "price", "bread",
              "waiters+", "food"]),
    "app": (["app", "game", "website", "course", "book", "novel", "podcast", "concert",
             "software", "album"],
            ["interface", "content", "characters+", "updates+", "graphics+", "price",
             "story", "ending", "lessons+", "music"]),
}

POSITIVE = ["good", "great", "excellent", "amazing", "wonderful", "fantastic", "superb", "lovely",
            "brilliant", "perfect", "impressive", "pleasant", "outstanding", "delightful",
            "enjoyable", "solid", "friendly", "reliable", "comfortable", "helpful", "clean",
            "fast", "nice", "fun"]
NEGATIVE = ["bad", "terrible", "awful", "horrible", "poor", "disappointing", "dreadful",
            "mediocre", "boring", "useless", "unpleasant", "rude", "broken", "slow", "dirty",
            "noisy", "overpriced", "bland", "frustrating", "annoying", "cheap", "weak",
            "unreliable", "messy"]
INTENSIFIERS = ["very", "really", "truly", "incredibly", "absolutely", "quite", "extremely", "so",
                "pretty", "totally", "rather"]
POSITIVE_VERBS = ["loved", "enjoyed", "liked", "adored", "appreciated", "really liked",
                  "absolutely loved", "really enjoyed"]
NEGATIVE_VERBS = ["hated", "disliked", "regretted buying", "could not stand", "really hated",
                  "was annoyed by", "was let down by"]

# Whole clauses that need no adjective; {s} is the subject, {a} an aspect.
# {w} is "I" or "we".
POSITIVE_CLAUSES = [
    "{w} would recommend this {s}", "{w} would highly recommend this {s} to anyone",
    "{w} will definitely come back", "worth every penny", "{w} would buy it again",
    "it exceeded my expectations", "the {s} did not disappoint", "{w} have no complaints",
    "I can't complain", "it works perfectly", "best {s} {w} have tried", "I am very happy with it",
    "the {a} stood out", "ten out of ten", "{w} had a great time", "everything went smoothly",
    "I am glad I chose this {s}", "{w} will be back soon", "{w} will definitely return",
]
NEGATIVE_CLAUSES = [
    "{w} would not recommend this {s}", "{w} would not recommend this {s} to anyone",
    "{w} will not come back", "a complete waste of money", "avoid this {s}",
    "it fell short of my expectations", "it did not meet my expectations", "I want my money back",
    "it stopped working after a week", "worst {s} {w} have tried", "I am very unhappy with it",
    "the {a} let me down", "zero out of ten", "{w} had a miserable time", "nothing went right",
    "I regret choosing this {s}", "{w} won't be back", "{w} will not return",
]
# "never" flips or keeps the sentiment, so each phrasing is listed with its
# own; {n} is "the <subject or aspect>".
NEVER_POSITIVE = [
    "I was never disappointed", "it never let me down", "I was never bored",
    "I never had a problem with {n}", "never a dull moment", "{n} never disappointed me",
    "never disappointed", "I have never been happier with a {s}", "I was never disappointed by {n}",
    "{n} never failed me", "I never had to complain about {n}", "we were never let down by {n}",
]
NEVER_NEGATIVE = [
    "it never worked properly", "I will never come back", "never again",
    "{n} never worked", "I would never recommend this {s}", "never buying from them again",
    "it never arrived on time", "I have never been so disappointed", "I was never happy with {n}",
    "{n} never impressed me", "we will never buy it again", "I was never satisfied with {n}",
]
# How a reviewer felt: "I was not disappointed" is praise, "not impressed" is not.
POSITIVE_FEELINGS = ["happy", "pleased", "satisfied", "impressed", "delighted", "thrilled"]
NEGATIVE_FEELINGS = ["disappointed", "unhappy", "annoyed", "frustrated", "bored", "upset"]
OPENERS = ["I bought this {s} last month.", "We tried the {s} on Saturday.", "Honestly,",
           "Overall,", "To be honest,", "Well,", "I went with my family.", "First time here.",
           "Used it for two weeks.", "My friend suggested this {s}.", "So,", "In short,"]
POSITIVE_CLOSERS = ["Five stars.", "Highly recommended!", "Would buy again.", "Love it!",
                    "Thank you!", "Great job."]
NEGATIVE_CLOSERS = ["One star.", "Not recommended.", "Avoid!", "Very disappointed.",
                    "What a shame.", "Never again."]
# Neutral context with names: a long tail of rare words, as real reviews have,
# which the vocabulary's minimum frequency turns into <unk>.
CONTEXTS = ["Bought it at {brand}.", "Ordered from {brand}.", "We visited {brand} in {city}.",
            "Went there last {day}.", "Tried it in {city} on {day}.", "My cousin {name} suggested it.",
            "Booked through {brand}.", "Review from {city}."]
BRAND_STARTS = ["Zor", "Vel", "Kam", "Tri", "Lux", "Nor", "Pax", "Qui", "Bel", "Dro", "Fen", "Gal",
                "Hex", "Jun", "Mir", "Oct", "Ros", "Sol", "Tav", "Wex"]
BRAND_ENDS = ["tex", "ora", "ix", "ano", "ello", "mark", "ify", "oon", "ara", "um", "ique", "ton"]
CITIES = ["Lisbon", "Denver", "Osaka", "Leeds", "Lyon", "Austin", "Porto", "Dublin", "Malmo",
          "Perth", "Quebec", "Bergen", "Cork", "Tucson", "Graz", "Nantes", "Tampere", "Utrecht"]
NAMES = ["Anna", "Ravi", "Tomasz", "Keiko", "Luis", "Ingrid", "Omar", "Chloe", "Bram", "Sade",
         "Mateo", "Yuki", "Freya", "Idris", "Nadia", "Pavel"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
ENDINGS = [".", ".", ".", "!", "!!", ""]
UNKNOWN_LABELS = ["neutral", "pos", "neg", "mixed", "5", "unknown", "good", "Positive?"]


def words(sentiment):
    """+1 or -1 → the adjective bank of that sentiment."""
    return POSITIVE if sentiment > 0 else NEGATIVE


def noun_and_verb(rng, subject, aspects):
    """A domain → ("the {aspect}" or "the {subject}", "was"/"is"/"were"/"are")."""
    if rng.random() < 0.35:
        return f"the {subject}", rng.choice(["was", "is"])
    aspect = rng.choice(aspects)
    plural = aspect.endswith("+")
    return f"the {aspect.rstrip('+')}", rng.choice(["were", "are"] if plural else ["was", "is"])


def adjective_clause(rng, sentiment, subject, aspects):
    """A clause whose adjective (possibly negated) gives `sentiment`: "the plot was not very good"."""
    noun, verb = noun_and_verb(rng, subject, aspects)
    style = rng.random()
    if style < 0.6:  # plain, maybe intensified: "the room was very clean"
        intensifier = rng.choice(INTENSIFIERS) + " " if rng.random() < 0.4 else ""
        return f"{noun} {verb} {intensifier}{rng.choice(words(sentiment))}"
    # Negated: "not good" is negative and "not bad" positive. An intensifier
    # goes only on a negated positive word: "not very bad" would not be praise.
    negation = rng.choice(["not", "n't"])
    negated_verb = f"{verb}n't" if negation == "n't" else f"{verb} not"
    word = rng.choice(words(-sentiment))
    if sentiment < 0 and rng.random() < 0.3:
        word = f"{rng.choice(INTENSIFIERS)} {word}"
    if sentiment > 0 and rng.random() < 0.3:
        word = f"{word} at all"
    return f"{noun} {negated_verb} {word}"


def verb_clause(rng, sentiment, subject, aspects):
    """A clause whose verb gives `sentiment`: "I loved the soundtrack", "we didn't enjoy the food"."""
    noun, _ = noun_and_verb(rng, subject, aspects)
    who = rng.choice(["I", "we"])
    if rng.random() < 0.75:
        verb = rng.choice(POSITIVE_VERBS if sentiment > 0 else NEGATIVE_VERBS)
        if who == "we":
            verb = verb.replace("was ", "were ")
        return f"{who} {verb} {noun}"
    if sentiment < 0:  # negated liking is dislike
        negation = rng.choice(["did not", "didn't", "didn\u2019t"])  # curly apostrophes happen
        return f"{who} {negation} {rng.choice(['like', 'enjoy', 'love'])} {noun}"
    negation = rng.choice(["could not", "couldn't"])  # "could not fault" is praise
    return f"{who} {negation} fault {noun}"


def exclamation_clause(rng, sentiment, subject, aspects):
    """A short exclamation: "what a brilliant film", "such a boring show", "really lovely hotel"."""
    word = rng.choice(words(sentiment))
    if rng.random() < 0.4:
        intensifier = rng.choice(INTENSIFIERS) + " " if rng.random() < 0.5 else ""
        return f"{intensifier}{word} {subject}"
    article = "an" if word[0] in "aeio" or word.startswith("un") else "a"
    return f"{rng.choice(['what', 'such'])} {article} {word} {subject}"


def fixed_clause(rng, sentiment, subject, aspects):
    """A whole clause from the banks."""
    bank = POSITIVE_CLAUSES if sentiment > 0 else NEGATIVE_CLAUSES
    return rng.choice(bank).format(s=subject, a=rng.choice(aspects).rstrip("+"),
                                   w=rng.choice(["I", "we"]))


def never_clause(rng, sentiment, subject, aspects):
    """A clause with "never", which may flip its words: "I was never disappointed by the food"."""
    noun, _ = noun_and_verb(rng, subject, aspects)
    bank = NEVER_POSITIVE if sentiment > 0 else NEVER_NEGATIVE
    return rng.choice(bank).format(s=subject, n=noun)


def feeling_clause(rng, sentiment, subject, aspects):
    """How the reviewer felt, maybe negated: "I was really pleased", "we were not disappointed"."""
    who, verb = rng.choice([("I", "was"), ("we", "were")])
    if rng.random() < 0.6:
        intensifier = rng.choice(INTENSIFIERS) + " " if rng.random() < 0.4 else ""
        feeling = rng.choice(POSITIVE_FEELINGS if sentiment > 0 else NEGATIVE_FEELINGS)
        phrase = f"{who} {verb} {intensifier}{feeling}"
    else:
        feeling = rng.choice(NEGATIVE_FEELINGS if sentiment > 0 else POSITIVE_FEELINGS)
        negated = rng.choice([f"{verb} not", f"{verb}n't"])
        phrase = f"{who} {negated} {feeling}"
    if rng.random() < 0.4:
        noun, _ = noun_and_verb(rng, subject, aspects)
        phrase += f" {rng.choice(['with', 'by'])} {noun}"
    return phrase


CLAUSES = [(adjective_clause, 5), (verb_clause, 2), (exclamation_clause, 1), (fixed_clause, 2),
           (never_clause, 1.5), (feeling_clause, 1.5)]


def clause(rng, sentiment, subject, aspects):
    """One clause of the given sentiment (+1 or -1), in any of the forms above."""
    makers, weights = zip(*CLAUSES)
    return rng.choices(makers, weights)[0](rng, sentiment, subject, aspects)


def sentence(text, ending):
    """Clause text → a sentence with a capital first letter and the given ending."""
    return text[0].upper() + text[1:] + ending


def review(rng):
    """→ (text, "positive"/"negative"), correct by construction."""
    domain = rng.choice(sorted(DOMAINS))
    subjects, aspects = DOMAINS[domain]
    subject = rng.choice(subjects)
    sentiment = rng.choice([1, -1])
    shape = rng.random()
    if shape < 0.4:  # one clause
        body = sentence(clause(rng, sentiment, subject, aspects), rng.choice(ENDINGS))
    elif shape < 0.55:  # two clauses that agree
        joiner = rng.choice([" and ", ", and ", ". ", " and also "])
        first, second = (clause(rng, sentiment, subject, aspects) for _ in range(2))
        body = sentence(first + joiner + (second if joiner != ". " else sentence(second, "")),
                        rng.choice(ENDINGS))
    else:  # a contrast: the clause after "but" / "however" carries the sentiment
        first = clause(rng, -sentiment, subject, aspects)
        second = clause(rng, sentiment, subject, aspects)
        joiner = rng.choice([" but ", ", but ", ", but ", ". But ", ". However, ", "; however, "])
        body = sentence(first + joiner + second, rng.choice(ENDINGS))
    if rng.random() < 0.25:
        opener = rng.choice(OPENERS).format(s=subject) if rng.random() < 0.6 else \
            rng.choice(CONTEXTS).format(brand=rng.choice(BRAND_STARTS) + rng.choice(BRAND_ENDS),
                                        city=rng.choice(CITIES), name=rng.choice(NAMES),
                                        day=rng.choice(DAYS))
        if not opener.endswith(".") and not body.startswith(("I ", "I'")):
            body = body[0].lower() + body[1:]  # "Honestly, the room..."
        body = f"{opener} {body}"
    if rng.random() < 0.15 and body[-1:] in ".!":
        body += " " + rng.choice(POSITIVE_CLOSERS if sentiment > 0 else NEGATIVE_CLOSERS)
    return body, "positive" if sentiment > 0 else "negative"


def dedup_key(text):
    """Review → the form two reviews must not share: lower case, words only."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


# The dirt a real export picks up, each a function of (rng, text) → text.
def add_control_characters(rng, text):
    """Bell, escape, backspace or delete characters somewhere in the text."""
    cut = rng.randrange(len(text) + 1)
    return text[:cut] + rng.choice(["\x07", "\x1b", "\x08", "\x7f", "\x01"]) + text[cut:]


def add_invisible_characters(rng, text):
    """Zero-width space or joiner, byte order mark, private-use or noncharacter code points."""
    cut = rng.randrange(1, len(text))
    return text[:cut] + rng.choice(["\u200b", "\u200d", "\ufeff", "\u2060", "\ue000", "\ufdd0"]) \
        + text[cut:]


FULLWIDTH = {chr(c): chr(c + 0xFEE0) for c in range(0x21, 0x7F)}


LIGATURES = [("ffi", "\ufb03"), ("ffl", "\ufb04"), ("ff", "\ufb00"), ("fi", "\ufb01"),
             ("fl", "\ufb02")]


def add_compatibility_forms(rng, text):
    """Non-NFKC forms: a fullwidth word, non-breaking spaces, ligatures (ﬁ, ﬀ…) or other spaces."""
    forms = ["fullwidth", "no-break space", "other spaces"]
    if re.search("ff|fi|fl", text):
        forms += ["ligatures"] * 3
    form = rng.choice(forms)
    if form == "fullwidth":
        match = rng.choice(list(re.finditer(r"[A-Za-z]{3,}", text)))
        word = "".join(FULLWIDTH[c] for c in match.group())
        return text[:match.start()] + word + text[match.end():]
    if form == "no-break space" and " " in text:
        return text.replace(" ", "\u00a0", rng.randint(1, 3))
    if form == "ligatures":
        for letters, ligature in LIGATURES:
            text = text.replace(letters, ligature)
        return text
    return "\u3000" + text.replace(" ", "\u2002", 1)  # ideographic and en spaces


def add_white_space(rng, text):
    """Runs of spaces, tabs and newlines between words and at the ends."""
    parts = text.split(" ")
    cut = rng.randrange(1, len(parts)) if len(parts) > 1 else 1
    gap = rng.choice(["   ", "\t", " \n ", "  \t  ", "\r\n"])
    return rng.choice(["", "  ", "\t"]) + " ".join(parts[:cut]) + gap + " ".join(parts[cut:]) \
        + rng.choice(["", " ", "   ", "\n"])


def dirty_rows(rng, clean, fresh):
    """Clean (text, label) rows and a source of new ones → the dirty rows to add, each kind a few dozen."""
    rows = []
    for make in (add_control_characters, add_invisible_characters, add_compatibility_forms,
                 add_white_space):
        for _ in range(40):  # new reviews, dirty: cleaning must repair and keep them
            text, label = fresh()
            rows.append((make(rng, text), label))
    for _ in range(45):  # exact duplicates
        rows.append(rng.choice(clean))
    for _ in range(45):  # duplicates only after normalization
        text, label = rng.choice(clean)
        make = rng.choice([add_white_space, add_compatibility_forms, add_invisible_characters])
        rows.append((make(rng, text), label))
    for _ in range(10):  # duplicates that differ only in letter case
        text, label = rng.choice(clean)
        rows.append((text.upper() if rng.random() < 0.5 else text.lower(), label))
    for _ in range(12):  # missing text: empty, blank, or invisible characters only
        rows.append((rng.choice(["", " ", "\t", "\u200b\u200b", "\x07", "  \n "]),
                     rng.choice(["positive", "negative"])))
    for _ in range(12):  # missing label
        rows.append((fresh()[0], rng.choice(["", " "])))
    for _ in range(30):  # unknown labels
        rows.append((fresh()[0], rng.choice(UNKNOWN_LABELS)))
    return rows


def generate(rows=ROWS, seed=SEED):
    """→ [(text, label)]: `rows` distinct clean reviews, balanced, plus the dirty rows, shuffled."""
    rng = random.Random(seed)
    seen, clean = set(), []
    per_label = {"positive": 0, "negative": 0}

    def fresh():
        """A review unlike any made so far."""
        while True:
            text, label = review(rng)
            if dedup_key(text) not in seen:
                seen.add(dedup_key(text))
                return text, label

    while len(clean) < rows:
        text, label = fresh()
        if per_label[label] < rows // 2 + rows % 2 * (label == "positive"):
            per_label[label] += 1
            clean.append((text, label))
    data = clean + dirty_rows(rng, clean, fresh)
    rng.shuffle(data)
    return data


def write_csv(path, data):
    """[(text, label)] → a UTF-8 CSV with a header text,label and LF line ends."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["text", "label"])
        writer.writerows(data)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--out", default=str(OUT), help=f"CSV to write (default {OUT})")
    parser.add_argument("--rows", type=int, default=ROWS,
                        help=f"clean reviews before the dirty rows are added (default {ROWS})")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    args = parser.parse_args(argv)
    data = generate(args.rows, args.seed)
    write_csv(args.out, data)
    print(f"wrote {len(data)} rows to {args.out}")


if __name__ == "__main__":
    main()
