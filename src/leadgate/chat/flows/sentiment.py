"""Message sentiment with VADER (Hutto & Gilbert, 2014), used by the negative-sentiment handoff rule."""

from __future__ import annotations

from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def compound_sentiment(text: str) -> float:
    """VADER's compound score of ``text``.

    The score is the sum of the lexicon valences adjusted by VADER's rules (negation, intensifiers,
    punctuation, capitals), normalized to [-1, 1]. The VADER README's usual reading: >= 0.05 positive,
    <= -0.05 negative, neutral between. Source: Hutto, C.J. & Gilbert, E.E. (2014). VADER: A Parsimonious
    Rule-based Model for Sentiment Analysis of Social Media Text. ICWSM-14.

    Args:
        text: one message.

    Returns:
        The compound score in [-1, 1].
    """
    return float(_analyzer().polarity_scores(text)["compound"])
