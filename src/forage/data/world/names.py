"""Fictional names for the generated world: people, places, organisations and creative works.

``NameForge`` invents pronounceable, unique names from syllables and small word lists, and on
request makes a *confusable* variant of an earlier name ("Varo Keln" -> "Varo Kellen"). It keeps
every name unique and never lets one name's words appear inside another's ("Marra" and "Isle of
Marra" cannot both exist), so a name found in a sentence refers to exactly one entity.

Not here: which entity gets which name (``forage.data.world``), or any text rendering.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable

logger = logging.getLogger(__name__)

_ONSETS = (
    "b", "d", "k", "l", "m", "n", "r", "s", "t", "v", "z", "h", "g", "f", "p",
    "b", "d", "k", "l", "m", "n", "r", "s", "t", "v", "br", "dr", "st", "th", "tr", "sh",
)  # fmt: skip
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "a", "i", "ou")
_CODAS = ("", "", "", "", "n", "r", "l", "s", "k", "th", "nd", "rn", "m", "lt")

_CITY_SUFFIXES = ("", "", "", "holm", "ford", "mere", "wick", "stad", "vale", "port", "by", "dun")
_COUNTRY_SUFFIXES = ("ia", "ora", "and", "eth", "ar", "ania", "istra", "esse")
_ADJECTIVES = (
    "Silent", "Glass", "Hollow", "Crimson", "Distant", "Quiet", "Broken", "Golden", "Paper",
    "Winter", "Iron", "Pale", "Salt", "Amber", "Velvet", "Bitter", "Northern", "Last", "Wandering",
    "Sleeping", "Burning", "Hidden", "Lonely", "Narrow", "Restless", "Copper", "Faded", "Endless",
)  # fmt: skip
_NOUNS = (
    "Harbour", "Orchard", "Lantern", "River", "Mirror", "Garden", "Compass", "Bridge", "Tide",
    "Meadow", "Letter", "Season", "Crown", "Signal", "Shore", "Window", "Archive", "Frontier",
    "Chorus", "Ember", "Atlas", "Orchestra", "Voyage", "Horizon", "Thread", "Lighthouse", "Sparrow",
    "Cartographer", "Winter", "Glacier", "Staircase", "Ferry",
)  # fmt: skip

# Words used by the text templates: a generated root equal to one of them could be mistaken for it.
_RESERVED = frozenset((
    "the", "a", "an", "of", "and", "in", "on", "at", "by", "was", "is", "born", "city", "film",
    "book", "album", "who", "which", "where", "when", "what", "island", "isle", "studio",
    "house", "press", "records", "university", "institute", "college", "country",
))  # fmt: skip

# Organisation and work name patterns per kind; "{r}" is a fresh root, "{a}"/"{n}" word-list picks.
_PATTERNS: dict[str, tuple[str, ...]] = {
    "studio": ("{r} Pictures", "{r} Films", "{a} {n} Studios", "{r} Studios"),
    "university": ("{r} University", "{r} Institute of Technology", "{r} College"),
    "publisher": ("{r} House", "{a} {n} Press", "{r} & {r2}", "{r} Books"),
    "label": ("{r} Records", "{a} {n} Records", "{r} Sound"),
    "company": ("{r} Industries", "{r} Holdings", "{r} & {r2}", "{r} Works"),
    "film": ("The {a} {n}", "{a} {n}", "The {n} of {r}", "{n} in {r}", "{n} for {r}"),
    "book": ("The {a} {n}", "The {n} of {r}", "{a} {n}", "Letters from {r}", "The {r} {n}"),
    "album": ("{a} {n}", "{n}s", "{r}", "{a} {n}s", "Songs for {r}"),
    "island": ("Isle of {r}", "{r} Island"),
}  # fmt: skip


# Words of the name patterns ("Studios", "Isle", "of"): a confusable variant never changes them.
_PATTERN_WORDS = frozenset(
    w.lower() for ps in _PATTERNS.values() for p in ps for w in p.split() if "{" not in w
)


def _tokens(name: str) -> tuple[str, ...]:
    return tuple(name.lower().split())


def _subsequences(tokens: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    for i in range(len(tokens)):
        for j in range(i + 1, len(tokens) + 1):
            yield tokens[i:j]


class NameForge:
    """Invents unique fictional names; all randomness comes from the ``rng`` given.

    ``partners`` maps each name made as a confusable variant to the name it imitates, both ways.
    """

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._full: set[tuple[str, ...]] = set()
        self._parts: set[tuple[str, ...]] = set()
        self._firsts: dict[str, list[str]] = {"female": [], "male": []}
        self.partners: dict[str, list[str]] = {}

    # -- public ----------------------------------------------------------------------------------

    def person(self, gender: str) -> str:
        def make() -> str:
            pool = self._firsts[gender]
            if len(pool) > 8 and self._rng.random() < 0.35:
                first = self._rng.choice(pool)
            else:
                first = self._first(gender)
                pool.append(first)
            return f"{first} {self.root(1, 2)}"

        return self._claim(make)

    def place(self, kind: str) -> str:
        if kind == "country":
            return self._claim(
                lambda: self.root(1, 2).rstrip("aeiou") + self._pick(_COUNTRY_SUFFIXES)
            )
        if kind == "island":
            return self._claim(lambda: self._pattern("island"))

        def city() -> str:
            while True:
                name = self.root(1, 2) + self._pick(_CITY_SUFFIXES)
                if 4 <= len(name) <= 10:
                    return name

        return self._claim(city)

    def thing(self, kind: str) -> str:
        """An organisation or creative work name of ``kind`` (a key of the pattern table)."""
        return self._claim(lambda: self._pattern(kind))

    def confusable(self, original: str) -> str | None:
        """A near-identical variant of ``original``, or None when no fresh variant was found."""
        words = original.split()
        for _ in range(12):
            i = self._rng.randrange(len(words))
            if words[i].lower() in _RESERVED | _PATTERN_WORDS:
                continue
            changed = list(words)
            changed[i] = self._mutate(words[i])
            candidate = " ".join(changed)
            if candidate != original and self._free(candidate):
                self._register(candidate)
                self.partners.setdefault(candidate, []).append(original)
                self.partners.setdefault(original, []).append(candidate)
                return candidate
        return None

    def root(self, lo: int = 2, hi: int = 2) -> str:
        """A capitalised pseudo-word of ``lo``..``hi`` syllables."""
        while True:
            n = self._rng.randint(lo, hi)
            parts = [self._pick(_ONSETS) + self._pick(_VOWELS) for _ in range(n)]
            word = ("".join(parts) + self._pick(_CODAS)).capitalize()
            if 3 <= len(word) <= 10 and word.lower() not in _RESERVED:
                return word

    # -- internals -------------------------------------------------------------------------------

    def _pick(self, options: tuple[str, ...]) -> str:
        return options[self._rng.randrange(len(options))]

    def _first(self, gender: str) -> str:
        female = gender == "female"
        ending = ("a", "ia", "ine", "el", "is") if female else ("o", "an", "ik", "", "ur")
        while True:
            name = (self.root(1, 2).rstrip("aeiou") + self._pick(ending)).capitalize()
            if len(name) >= 3 and any(c in "aeiou" for c in name.lower()):
                return name

    def _pattern(self, kind: str) -> str:
        return self._pick(_PATTERNS[kind]).format(
            r=self.root(1, 2), r2=self.root(1, 2), a=self._pick(_ADJECTIVES), n=self._pick(_NOUNS)
        )

    def _mutate(self, word: str) -> str:
        for pool in (_ADJECTIVES, _NOUNS):  # a real word changes into another real word
            if word in pool:
                return self._pick(tuple(w for w in pool if w != word))
            if word.endswith("s") and word[:-1] in pool:
                return self._pick(tuple(w for w in pool if w != word[:-1])) + "s"
        how = self._rng.randrange(4)
        if how == 0:
            return word + self._pick(("en", "a", "e", "s", "ar", "ley"))
        if how == 1 and len(word) > 4:
            return word[:-1]
        vowels = [i for i, c in enumerate(word) if c in "aeiou"]
        if how == 2 and vowels:
            i = self._rng.choice(vowels)
            return word[:i] + self._pick(tuple(v for v in "aeiou" if v != word[i])) + word[i + 1 :]
        spots = [
            i for i in range(2, len(word) + 1)
            if word[i - 1] in "lnrstmpdk" and word[i - 2] in "aeiou"
            and word[i : i + 1] != word[i - 1]
        ]  # fmt: skip
        if not spots:
            return word + "en"
        i = self._rng.choice(spots)
        return word[:i] + word[i - 1] + word[i:]  # doubled consonant: "Kelen" -> "Kellen"

    def _free(self, name: str) -> bool:
        tokens = _tokens(name)
        if tokens in self._parts:
            return False
        return not any(sub in self._full for sub in _subsequences(tokens))

    def _register(self, name: str) -> None:
        tokens = _tokens(name)
        self._full.add(tokens)
        self._parts.update(_subsequences(tokens))

    def _claim(self, make: Callable[[], str]) -> str:
        for _ in range(200):
            name = make()
            if self._free(name):
                self._register(name)
                return name
        raise RuntimeError("name space exhausted")  # unreachable for realistic world sizes
