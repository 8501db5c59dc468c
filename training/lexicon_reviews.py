"""Reviews composed around human-rated words: VADER's lexicon (vaderSentiment 3.3.2, MIT licence).

vaderSentiment ships vader_lexicon.txt: about 7,500 English words, slang and
emoticons, each rated from -4 to +4 by ten people (Hutto and Gilbert, ICWSM
2014). Its words give this data its vocabulary, its polarity and its
confidence: a row's target is the probability of "positive" taken from
how many of the ten raters agreed with the word's sign (Laplace-smoothed,
so "ok", which 10 of 10 raters call mildly positive, is 0.92 and no word is
ever certain), moved toward 0.5 by hedges, negation and contrast, and
toward the word's side by intensifiers. The model learns what the words
mean and how English composes them (negation flips, the clause after "but"
decides, an overall verdict outweighs a side remark), from thousands of
words and not one generator's few hundred. The negation words and the
intensifiers are VADER's own lists (NEGATE, BOOSTER_DICT).

    rows = lexicon_reviews(seed=0)   # [(text, label id, probability of positive)]

Only the lexicon and the seed decide the rows, so they are the same on
every machine; nothing here is written to disk.
"""

import importlib.util
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path

COMPOSED_ROWS = 16000  # sentences, on top of one row per rated word
DATA_SEED = 20241111  # the rows do not change with the training seed: only the split does
MIN_ABS_RATING = 0.6  # words rated closer to neutral than this carry no label
# Confidence kept by each operation: 0.5 + share × (confidence − 0.5).
NEGATED_SHARE = 0.75  # "not great" is surely not great, but "not bad" is only fairly good
HEDGED_SHARE = 0.8  # "a bit slow", "fairly good"
CONTRAST_SHARE = 0.85  # "the food was great, but the service was slow": the second clause, not sure
INTENSIFIED_GAIN = 1.3  # "extremely rude"
MOST_CONFIDENT = 0.97

# Suffixes that mostly mark English adjectives; other words take frames that
# do not need one ("Service: a nightmare.").
ADJECTIVE_SUFFIXES = ("ful", "ous", "ive", "able", "ible", "al", "ic", "less", "ent", "ant", "ish",
                      "ed", "ing", "est", "y", "ile", "ate", "id")
# Short, common adjectives the suffixes miss.
PLAIN_ADJECTIVES = {"good", "bad", "great", "nice", "fine", "poor", "rude", "kind", "cool", "sweet",
                    "weak", "fun", "sad", "glad", "safe", "warm", "fair", "calm", "dull", "keen",
                    "sick", "sore", "ugly", "vile", "wise", "fresh", "clean", "cheap", "dirty",
                    "bright", "sharp", "smart", "super", "brave", "cruel", "dumb", "lame", "neat",
                    "proud", "rich", "lost", "free", "wrong", "true", "best", "worst", "better",
                    "worse", "okay", "ok", "clear", "awesome", "superb", "excellent", "perfect",
                    "brilliant", "splendid", "elegant", "pleasant", "decent", "gorgeous", "lovely",
                    "broken", "mediocre", "adequate", "tense", "bland", "stale", "sour", "harsh",
                    "crap", "tired", "bored", "ideal", "polite", "secure", "sincere", "humble",
                    "gentle", "tender", "mean", "nasty", "bitter", "angry", "grim"}

# Words reviews lean on that a general lexicon lacks ("slow" is neutral in
# general, bad in a review), labelled by this project, not rated by a panel:
# they get REVIEW_WORD_CONFIDENCE, below most rated words.
REVIEW_WORDS = {
    1: "fast quick tasty spotless comfy cozy cosy sturdy intuitive spacious quiet polite attentive "
       "crisp smooth reliable durable snug prompt knowledgeable professional patient thorough "
       "gripping memorable moving sleek stylish tender juicy affordable roomy punctual seamless "
       "flawless accurate generous cheerful courteous welcoming homely fluffy flavourful "
       "flavorful hearty immaculate speedy responsive well-made lightweight bright breathable".split(),
    -1: "slow overpriced stale soggy cramped flimsy laggy buggy filthy unhelpful mediocre bland "
        "greasy undercooked overcooked burnt glitchy unusable unreliable scratchy inefficient "
        "dismissive condescending predictable forgettable clunky shabby tatty musty smelly "
        "stuffy chewy rubbery lukewarm expensive pricey noisy leaky sticky cheaply-made "
        "outdated dated tasteless watery dry late rushed careless sloppy wobbly dim grubby "
        "tedious confusing clumsy cluttered drafty mouldy moldy damp freezing fiddly".split(),
}
REVIEW_WORD_CONFIDENCE = 0.85
COMMON_SHARE = 0.4  # of word picks from the plain adjectives and REVIEW_WORDS, which reviews use most

# (domain, things reviewed, aspects); an aspect ending in "+" is plural.
DOMAINS = (
    ("restaurants", ["diner", "bistro", "takeaway", "ramen place", "brunch spot", "tapas bar"],
     ["curry", "chips+", "staff+", "waitress", "soup", "steak", "wine list", "portion sizes+",
      "starters+", "ice cream", "bill", "table service"]),
    ("hotels and travel", ["hostel", "resort", "B&B", "cruise", "train journey", "holiday let"],
     ["bedroom", "mattress", "reception", "check-in", "shower", "balcony", "pool", "hosts+",
      "rooms+", "cleaners+", "wifi", "transfer"]),
    ("electronics", ["headphones+", "monitor", "router", "e-reader", "speaker", "smartphone"],
     ["battery", "display", "microphone", "charging cable", "touchscreen", "bass", "firmware",
      "buttons+", "hinge", "remote", "fans+", "camera"]),
    ("films and books", ["novel", "sequel", "memoir", "cartoon", "drama", "audiobook"],
     ["script", "lead actor", "narrator", "villain", "twist", "final chapter", "pacing",
      "characters+", "jokes+", "visuals+", "score", "dialogue"]),
    ("healthcare and services", ["clinic", "dentist", "pharmacy", "garage", "vet", "council office"],
     ["doctor", "nurses+", "receptionist", "mechanic", "appointment system", "waiting room",
      "treatment", "advice", "paperwork", "phone line", "cleaning", "follow-up"]),
    ("apps and software", ["app", "browser", "game", "password manager", "banking app", "editor"],
     ["interface", "login", "search", "notifications+", "latest update", "menus+", "sync",
      "settings+", "checkout", "support chat", "dark mode", "ads+"]),
    ("clothing and shopping", ["coat", "boots+", "dress", "backpack", "jeans+", "online shop"],
     ["fabric", "stitching", "zip", "sizing", "colours+", "seams+", "delivery", "returns+",
      "packaging", "lining", "laces+", "fit"]),
)

# Everyday sentences with no sentiment, between the ones that carry it.
NEUTRAL = ["We went on a Thursday evening.", "I bought it for my brother.",
           "It arrived in a plain box.", "I have had it for about a month.",
           "We stayed for three nights.", "My appointment was first thing in the morning.",
           "I downloaded it after a friend mentioned it.", "I watched it on a long flight.",
           "We were a group of six.", "This was my second visit.", "I ordered the large size.",
           "It was raining when we arrived.", "I use it mostly at work.",
           "My partner picked it.", "We booked it months ago.", "I read it over a weekend.",
           "The parking is behind the building.", "I paid by card.",
           "It replaced an older model.", "We came here after the match."]

# What happened, not how it felt: reviews say "it broke" more often than "it
# was bad". Labelled by this project (EVENT_CONFIDENCE); {thing} and {aspect}
# are filled in, so each event is learned apart from any one domain.
EVENTS = {
    1: [
        'I would happily go back',
        'we will definitely return',
        "I'd buy another {thing}",
        "I've already told my friends about the {thing}",
        'we are coming back next year',
        'it has been going strong for years',
        'the {aspect} still works like new',
        'they went above and beyond',
        'they sorted the problem the same day',
        'they fixed it without charging me',
        'it paid for itself within a month',
        "I got my money's worth",
        'they refunded me straight away',
        'I keep recommending the {thing} to everyone',
        "I'd give it ten stars if I could",
        'it exceeded my expectations',
        'it did everything I asked of it',
        'they remembered my name',
        'they made us feel at home',
        'it arrived a day early',
        'I could not find a single fault',
        'it made my week',
        'we left with big smiles',
        'my kids still talk about it',
        "I'm ordering a second one",
        "I've used the {thing} every day since",
        'they took the time to explain everything',
        'it was ready when they promised',
        'nothing was too much trouble',
        'every detail had been thought of',
        "it's worth the money",
        "I'm a customer for life",
        "we've booked again for the summer",
        "I'd choose this {thing} over any other",
        'it survived being dropped down the stairs',
        'the {aspect} lasts all day',
        'it charges in under an hour',
        'the battery easily lasts a week',
        "I haven't had a single issue",
        'it just works',
        'everything arrived well packed and on time',
        "the staff couldn't do enough for us",
        'they let us check in early',
        'the room was upgraded at no extra cost',
        'we felt completely looked after',
        'I slept better than I have in months',
        'the food came out hot and quickly',
        'every plate came back empty',
        'we ordered seconds',
        "the chef clearly knows what he's doing",
        'the portions left us full',
        'it tasted like home cooking',
        'the price was more than fair',
        'it was cheaper than I expected and better too',
        "I'd pay double for it",
        'they answered my call within minutes',
        'the problem was solved on the first call',
        'the doctor made me feel at ease',
        'I was seen within ten minutes',
        'the nurse held my hand the whole time',
        'they followed up to check I was okay',
        'my pain has gone since the treatment',
        'the vet was so gentle with our cat',
        'the mechanic showed me exactly what was wrong',
        'the work was finished ahead of schedule',
        'they cleaned up after themselves',
        'the app loads instantly',
        'it syncs without any fuss',
        'the update made everything faster',
        'I found what I needed in seconds',
        'it has saved me hours',
        'the new version fixed every bug I had',
        'the developers actually listen',
        'it runs smoothly even on my old phone',
        'the fit is spot on',
        'it washes well and keeps its colour',
        'the material feels expensive',
        'I get compliments every time I wear it',
        'they look even better in person',
        'the shoes were comfortable straight out of the box',
        'the size guide was accurate',
        'returns were quick and painless',
        'the story had me hooked from the first page',
        'I laughed all the way through',
        'I cried at the ending',
        'I was on the edge of my seat',
        "I can't stop thinking about it",
        "I've watched it three times already",
        'I read it in one sitting',
        'the characters stayed with me for days',
        'the actors were perfectly cast',
        'the music gave me goosebumps',
        'the twist caught me completely off guard',
        'it made the long journey fly by',
        'the view took our breath away',
        'the guide made the history come alive',
        'the beds were like sleeping on a cloud',
        'the shower was hot and powerful',
        'breakfast had something for everyone',
        "we didn't want to leave",
        "I'd move in if I could",
        "it's the highlight of our trip",
        'the kids were entertained for hours',
        "I wish I'd found this sooner",
        "it's now my go-to place",
        'I can finally sleep through the night',
        'it does exactly what it says on the box',
        'it feels built to last',
        'the picture is sharp and bright',
        'the sound fills the whole room',
        'setup took two minutes',
        'it connects instantly every time',
        'they replaced it with no questions asked',
        'customer service was a pleasure to deal with',
        'they kept me updated at every step',
        'it was a joy to use',
        "I'm really glad I bought it",
        "it's the best purchase I've made this year",
        'my only regret is not buying it earlier',
    ],
    -1: [
        'it stopped working after a week',
        'it fell apart within a month',
        'I want my money back',
        "I'm still waiting for a refund",
        'nobody answered my emails',
        'we had to wait over an hour',
        'they cancelled without telling us',
        'it broke the first time I used it',
        'I returned the {thing} the next day',
        'the {aspect} died after two days',
        'they charged me twice',
        'I had to call five times',
        'we left before the end',
        'it never turned up',
        'they lost my booking',
        'the {aspect} smelled of damp',
        'it leaked everywhere',
        'it took three weeks to arrive',
        'they hung up on me',
        'I felt like a nuisance',
        "we won't be going back",
        "I'll never buy from them again",
        'it ended up in the bin',
        'the {aspect} was missing',
        'it made me ill',
        'they blamed me for their mistake',
        "I've had nothing but problems",
        'it keeps crashing',
        "half of it didn't work",
        "it wasn't worth the money",
        'they ignored us all evening',
        'I wish I had read the reviews first',
        'the battery is flat by lunchtime',
        'it overheats after ten minutes',
        'the screen cracked on its own',
        "it won't turn on anymore",
        'it disconnects every few minutes',
        'the buttons stopped responding',
        'the charger melted',
        "it's already scratched all over",
        'the sound cuts out constantly',
        'it freezes whenever I open it',
        'I lost all my data after the update',
        'it logs me out every day',
        'the app is full of pop-ups',
        'support never got back to me',
        'every update makes it slower',
        'I had to reinstall it three times',
        'the food arrived cold',
        'my order was wrong twice',
        'there was a hair in my soup',
        'we were never offered a drink',
        'the meat was tough and grey',
        'it tasted like it had been reheated',
        'they forgot our starters',
        'the bill had items we never ordered',
        'we got food poisoning',
        'the toilets were disgusting',
        "the room hadn't been cleaned",
        'the sheets had stains on them',
        'we found cockroaches in the bathroom',
        "the heating didn't work",
        "we couldn't sleep because of the noise",
        'the pool was closed the whole week',
        'the lift was out of order',
        'they gave our room away',
        'the photos were nothing like the reality',
        'the train was delayed by two hours',
        'our luggage went missing',
        'the flight was overbooked',
        'the driver took the long way to charge us more',
        'I waited two hours past my appointment time',
        'they sent me home without any answers',
        'the doctor barely looked at me',
        'the receptionist was short with me',
        "I got a bill I didn't expect",
        'they made the problem worse',
        'the repair lasted a single day',
        'the plumber never showed up',
        'the work had to be redone',
        'they kept me on hold for forty minutes',
        'the stitching came undone after one wash',
        'it shrank two sizes in the wash',
        'the colour faded almost immediately',
        'the zip jammed on the first day',
        "it's see-through in daylight",
        'the shoes gave me blisters',
        'it looked nothing like the picture',
        'the sizing is way off',
        'I fell asleep halfway through',
        'I guessed the ending in the first ten minutes',
        'the story went nowhere',
        'I gave up after three chapters',
        "the jokes didn't land",
        'the acting was wooden',
        'it dragged on for far too long',
        "the sound was so quiet we couldn't hear the dialogue",
        'I wanted to walk out',
        'nobody at the desk seemed to care',
        'we were treated like an inconvenience',
        'they refused to take responsibility',
        'it was a complete rip-off',
        'I felt cheated',
        "it's gathering dust in a drawer",
        'I regret every penny I spent',
        'it caused more problems than it solved',
        'the instructions were impossible to follow',
        "it rattles whenever it's on",
        'it smells of chemicals',
        'they never replied to my complaint',
        "I'm reporting them to trading standards",
        'it was an absolute disaster',
        'the whole evening was ruined',
    ],
}
EVENT_CONFIDENCE = 0.88
EVENT_SHARE = 0.3  # of clauses: an event instead of a rated word

# Most words of a real review carry no sentiment ("views", "window",
# "garage"). Words of Python's own documentation (pydoc_data, in every
# CPython) that no lexicon rates stand in for them: as the thing reviewed and
# in side phrases, so the model learns that an unrated word says nothing.
NEUTRAL_SHARE = 0.35  # of clauses: the aspect is such a word
SIDE_PHRASE_SHARE = 0.3  # of clauses: "... from the window", "... for the price"
PREPOSITIONS = ["from the", "for the", "with the", "after the", "in the", "on the", "near the",
                "by the", "about the", "for my", "with our", "at the"]

# What a thing should do: "it works every time" is good, "it won't charge" bad.
FUNCTIONS = ["work", "fit", "close", "charge", "connect", "load", "last", "open", "start", "sync",
             "stay on", "switch on", "hold a charge", "stay clean", "keep warm"]

HEDGES = ["a bit", "slightly", "somewhat", "fairly", "rather", "kind of", "a little", "mostly"]
VERBS = [("loved", "love"), ("hated", "hate"), ("enjoyed", "enjoy"), ("liked", "like"),
         ("adored", "adore"), ("disliked", "dislike"), ("appreciated", "appreciate"),
         ("regretted", "regret"), ("despised", "despise"), ("admired", "admire"),
         ("recommended", "recommend"), ("trusted", "trust"), ("detested", "detest")]


@dataclass(frozen=True)
class RatedWord:
    """A lexicon word, its sign (+1/-1), and how sure its raters were of that sign (0.5..1)."""

    word: str
    sign: int
    confidence: float


def lexicon_path() -> Path:
    """→ vaderSentiment's vader_lexicon.txt in this environment."""
    spec = importlib.util.find_spec("vaderSentiment")
    if spec is None:
        raise SystemExit("vaderSentiment is not installed: pip install -r requirements.txt")
    return Path(spec.origin).parent / "vader_lexicon.txt"


def rater_confidence(mean: float, ratings: list) -> float:
    """A word's mean rating and its raters' ratings → the smoothed share agreeing with its sign."""
    sign = 1 if mean > 0 else -1
    agree = sum(1.0 if r * sign > 0 else 0.5 if r == 0 else 0.0 for r in ratings)
    return (agree + 1.0) / (len(ratings) + 2.0)


def read_lexicon(path=None) -> list:
    """vader_lexicon.txt → [RatedWord] of its plain words (3+ letters) rated at least
    MIN_ABS_RATING from neutral, in file order."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

    skip = set(NEGATE) | set(BOOSTER_DICT)
    words = []
    for line in Path(path or lexicon_path()).read_text(encoding="utf-8").splitlines():
        word, mean, _, ratings = line.split("\t")[:4]
        mean = float(mean)
        if not re.fullmatch(r"[a-z]{3,}", word) or word in skip or abs(mean) < MIN_ABS_RATING:
            continue
        ratings = [int(r) for r in re.findall(r"-?\d+", ratings)]
        words.append(RatedWord(word, 1 if mean > 0 else -1, rater_confidence(mean, ratings)))
    return words


def review_words() -> list:
    """→ [RatedWord] of REVIEW_WORDS (one word may be hyphenated)."""
    return [RatedWord(word, sign, REVIEW_WORD_CONFIDENCE)
            for sign, words in REVIEW_WORDS.items() for word in words]


def neutral_words(rated) -> list:
    """Rated words (to leave out) → plain English words of Python's documentation no one rated."""
    import pydoc_data.topics

    text = " ".join(pydoc_data.topics.topics.values())
    counts = {}
    for word in re.findall(r"\b[a-z]{4,12}\b", text):
        counts[word] = counts.get(word, 0) + 1
    review = {w for ws in REVIEW_WORDS.values() for w in ws}
    return sorted(w for w, c in counts.items() if c >= 3 and w not in rated and w not in review)


def is_adjective(word: str) -> bool:
    """Lexicon word → whether it most likely is an adjective (suffix or a common short one)."""
    return word in PLAIN_ADJECTIVES or (word.endswith(ADJECTIVE_SUFFIXES) and not word.endswith("ly"))


def shrink(confidence: float, share: float) -> float:
    """Confidence → moved toward 0.5, keeping `share` of its distance."""
    return 0.5 + share * (confidence - 0.5)


def combine(*confidences) -> float:
    """Confidences of clauses that agree → the sentence's: the surest, plus half the others' log-odds."""
    odds = sorted((math.log(c / (1 - c)) for c in confidences), reverse=True)
    total = odds[0] + 0.5 * sum(odds[1:])
    return min(MOST_CONFIDENT, 1 / (1 + math.exp(-total)))


class Composer:
    """Rated words and a random generator → clauses and reviews with their confidence."""

    def __init__(self, words, rng):
        self.rng = rng
        self.neutral = neutral_words({w.word for w in words})
        self.adjectives = {s: [w for w in words if w.sign == s and is_adjective(w.word)] for s in (1, -1)}
        common = PLAIN_ADJECTIVES | {w for ws in REVIEW_WORDS.values() for w in ws}
        self.common = {s: [w for w in self.adjectives[s] if w.word in common] for s in (1, -1)}
        self.adverbs = {s: [w for w in words if w.sign == s and w.word.endswith("ly")] for s in (1, -1)}
        self.others = {s: [w for w in words if w.sign == s and not is_adjective(w.word)
                           and not w.word.endswith("ly")] for s in (1, -1)}
        rated = {w.word: w for w in words}
        self.verbs = {s: [(past, base, rated[base]) for past, base in VERBS
                          if base in rated and rated[base].sign == s] for s in (1, -1)}
        from vaderSentiment.vaderSentiment import BOOSTER_DICT
        # VADER's boosters that raise (not dampen) intensity, and read as adverbs.
        self.boosters = sorted(b for b, v in BOOSTER_DICT.items() if v > 0 and " " not in b)

    def subject(self):
        """→ (a domain's thing, one of its aspects, whether that aspect is plural)."""
        _, things, aspects = self.rng.choice(DOMAINS)
        aspect = self.rng.choice(aspects)
        # Plural things ("boots+") read as "the pair of boots", so "was" fits both.
        thing = self.rng.choice(things)
        thing = f"pair of {thing[:-1]}" if thing.endswith("+") else thing
        if self.rng.random() < NEUTRAL_SHARE:
            aspect = self.rng.choice(self.neutral)
        return thing, aspect.rstrip("+"), aspect.endswith("+")

    def word(self, kind, sign):
        """Kind ("adjectives", "adverbs", "others") and sign → a RatedWord; adjectives are
        COMMON_SHARE of the time the ones reviews use most."""
        if kind == "adjectives" and self.rng.random() < COMMON_SHARE:
            kind = "common"
        return self.rng.choice(getattr(self, kind)[sign])

    def clause(self, sign):
        """Sign of the clause (+1/-1) → (clause text without final stop, confidence in that sign)."""
        text, confidence = self.bare_clause(sign)
        if self.rng.random() < SIDE_PHRASE_SHARE:
            text += f" {self.rng.choice(PREPOSITIONS)} {self.rng.choice(self.neutral)}"
        return text, confidence

    def bare_clause(self, sign):
        """Sign of the clause (+1/-1) → (clause text, confidence), with no side phrase."""
        rng = self.rng
        thing, aspect, plural = self.subject()
        be = rng.choice(["were", "are"] if plural else ["was", "is"])
        negative_be = {"were": "weren't", "are": "aren't", "was": "wasn't", "is": "isn't"}[be]
        the = rng.choice(["the", "the", "my", "our", "their"])
        if rng.random() < EVENT_SHARE:
            event = rng.choice(EVENTS[sign]).format(thing=thing, aspect=aspect)
            return event, EVENT_CONFIDENCE
        kind = rng.random()
        if kind < 0.30:
            w = self.word("adjectives", sign)
            text = rng.choice([f"{the} {aspect} {be} {w.word}", f"{w.word} {aspect}",
                               f"{the} {thing} was {w.word}", f"a {w.word} {thing}",
                               f"it {be if not plural else 'was'} {w.word}", f"{w.word}"])
            return text, w.confidence
        if kind < 0.45:
            w = self.word("adjectives", sign)
            booster = rng.choice(self.boosters + ["very", "really", "so", "truly"])
            text = rng.choice([f"{the} {aspect} {be} {booster} {w.word}", f"{booster} {w.word}",
                               f"{booster} {w.word} {aspect}", f"{the} {thing} is {booster} {w.word}"])
            return text, min(MOST_CONFIDENT, shrink(w.confidence, INTENSIFIED_GAIN))
        if kind < 0.52:
            w = self.word("adjectives", sign)
            hedge = rng.choice(HEDGES)
            return f"{the} {aspect} {be} {hedge} {w.word}", shrink(w.confidence, HEDGED_SHARE)
        if kind < 0.70:
            w = self.word("adjectives", -sign)  # the negated word has the other sign
            text = rng.choice([f"{the} {aspect} {be} not {w.word}", f"{the} {aspect} {negative_be} {w.word}",
                               f"not {w.word} at all", f"{the} {thing} wasn't {w.word} at all",
                               f"{the} {aspect} {be} never {w.word}", f"nothing {w.word} about {the} {aspect}",
                               f"{the} {aspect} {be} far from {w.word}", f"not a {w.word} {thing}",
                               f"i wouldn't call {the} {aspect} {w.word}",
                               f"not once was {the} {aspect} {w.word}", f"we never felt {w.word}",
                               f"nobody was {w.word}", f"there was nothing {w.word} about it",
                               f"i can't say it was {w.word}", f"it's not {w.word}, not at all"])
            return text, shrink(w.confidence, NEGATED_SHARE)
        if kind < 0.78 and self.verbs[sign]:
            past, base, w = rng.choice(self.verbs[sign])
            text = rng.choice([f"i {past} {the} {aspect}", f"we {past} this {thing}",
                               f"i really {past} it", f"i {base} {the} {aspect}"])
            return text, w.confidence
        if kind < 0.84 and self.verbs[-sign]:
            past, base, w = rng.choice(self.verbs[-sign])
            text = rng.choice([f"i didn't {base} {the} {aspect}", f"i did not {base} this {thing}",
                               f"we don't {base} it", f"i can't say i {past} it",
                               f"i wouldn't {base} it", f"nobody will {base} this {thing}",
                               f"you won't {base} it", f"i never {past} {the} {aspect}"])
            return text, shrink(w.confidence, NEGATED_SHARE)
        if kind < 0.88:
            verb = rng.choice(FUNCTIONS)
            third = verb.replace(" ", "s ", 1) if " " in verb else verb + ("es" if verb.endswith("h") else "s")
            if sign > 0:
                text = rng.choice([f"it {third} perfectly", f"{the} {aspect} {third} every time",
                                   f"it always {third} first time", f"{the} {thing} {third} without a problem",
                                   f"never fails to {verb}"])
            else:
                text = rng.choice([f"it doesn't {verb} properly", f"{the} {aspect} won't {verb}",
                                   f"{the} {thing} never {third}", f"it fails to {verb} half the time",
                                   f"it stopped being able to {verb}", f"{the} {aspect} doesn't {verb}"])
            return text, EVENT_CONFIDENCE
        if kind < 0.92 and self.adverbs[sign]:
            w = self.word("adverbs", sign)
            text = rng.choice([f"{the} {aspect} {be} {w.word} done", f"{w.word} made",
                               f"{the} {thing} works {w.word}"])
            return text, w.confidence
        if rng.random() < 0.3:
            w = self.word("others", -sign)  # "no problems", "without any fuss"
            text = rng.choice([f"no {w.word}", f"without any {w.word}", f"not a single {w.word}",
                               f"there was no {w.word}", f"never any {w.word}",
                               f"nobody felt any {w.word}", f"not once a {w.word}"])
            return text, shrink(w.confidence, NEGATED_SHARE)
        w = self.word("others", sign)
        text = rng.choice([f"{the} {aspect}: {w.word}", f"{w.word}", f"pure {w.word}",
                           f"{the} {thing} was a {w.word}", f"what {w.word}", f"{w.word} all round"])
        return text, w.confidence

    def review(self):
        """→ (review text, label id 0/1, probability of positive)."""
        rng = self.rng
        sign = rng.choice((1, -1))
        shape = rng.random()
        if shape < 0.35:
            text, confidence = self.clause(sign)
            parts = [text]
        elif shape < 0.55:
            (a, ca), (b, cb) = self.clause(sign), self.clause(sign)
            joiner = rng.choice([" and ", ", and ", ". ", "; ", ", ", " and also "])
            parts, confidence = [a + joiner + b], combine(ca, cb)
        elif shape < 0.82:
            (a, _), (b, cb) = self.clause(-sign), self.clause(sign)
            # The clause after the comma decides, as reviewers write "nice
            # design, although the keyboard is awful"; only "even though"
            # puts the concession second.
            parts = [rng.choice([f"{a}, but {b}", f"{a}. but {b}", f"{a}. however, {b}",
                                 f"although {a}, {b}", f"{a}, although {b}", f"{b} even though {a}",
                                 f"{a}, yet {b}", f"{a}. that said, {b}", f"{a}. still, {b}",
                                 f"while {a}, {b}", f"{a}; {b} though", f"{a}, though {b}",
                                 f"{a}; otherwise {b}", f"{a}; once {b}"])]
            confidence = shrink(cb, CONTRAST_SHARE)
        else:
            main = [self.clause(sign) for _ in range(rng.randint(2, 3))]
            side = [self.clause(-sign)] if rng.random() < 0.5 else []
            clauses = main[:-1] + side
            rng.shuffle(clauses)
            sentences = [rng.choice(NEUTRAL)] + [c for c, _ in clauses]
            if rng.random() < 0.5:
                sentences.insert(rng.randint(1, len(sentences)), rng.choice(NEUTRAL))
            verdict = rng.choice(["overall, ", "all in all, ", "in the end ", "", "honestly, "])
            sentences.append(verdict + main[-1][0])
            parts = sentences
            confidence = combine(*(c for _, c in main))
            if side:
                confidence = shrink(confidence, CONTRAST_SHARE)
        text = " ".join(sentence_case(part, rng, last=i == len(parts) - 1) for i, part in enumerate(parts))
        positive = confidence if sign > 0 else 1 - confidence
        return text, int(sign > 0), round(positive, 4)


def sentence_case(text: str, rng, last=True) -> str:
    """Clause → capitalized (mostly), " i " as "I", and a stop or "!" at the end (the last
    sentence sometimes none)."""
    text = re.sub(r"\bi\b", "I", text)
    text = re.sub(r"([.;] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    if rng.random() < 0.85:
        text = text[:1].upper() + text[1:]
    if text[-1] not in ".!?":
        text += rng.choice([".", ".", ".", "!", "", "!!"] if last else [".", ".", "!"])
    return text


def lexicon_reviews(seed=DATA_SEED, rows=COMPOSED_ROWS, path=None) -> list:
    """Lexicon (and seed) → [(text, label id, probability of positive)]: every rated word alone,
    then `rows` composed reviews."""
    words = read_lexicon(path)
    rated = {w.word for w in words}
    words += [w for w in review_words() if w.word not in rated]
    alone = [(w.word, int(w.sign > 0), round(w.confidence if w.sign > 0 else 1 - w.confidence, 4))
             for w in words]
    composer = Composer(words, random.Random(seed))
    return alone + [composer.review() for _ in range(rows)]


if __name__ == "__main__":  # python -m training.lexicon_reviews: a sample of the rows
    sample = random.Random(0).sample(lexicon_reviews(), 40)
    for text, label, positive in sample:
        print(f"{positive:.3f}  {text}")
