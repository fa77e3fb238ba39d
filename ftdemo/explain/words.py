"""WordPiece pieces → the words the user typed.

Scores are computed per token; people read words. A word here is a run of pieces
that touch in the original text (or that the tokenizer's pre-tokenizer kept as one
word), so "naïve", "don't" and "hello," come back exactly as typed, taken from the
input by character offsets — never rebuilt from "##" pieces or [UNK]. Chinese,
Japanese and Korean ideographs are their own word each (BERT tokenizers split
them per character and the text has no spaces to group them by).

Pure functions over plain lists and numpy arrays; no tokenizer, no model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class TokenInfo:
    """What the fast tokenizer says about one encoded input (batch of one, no padding).

    offsets are character spans into the text of the token's own segment; special
    tokens ([CLS], [SEP]) have special=True and no span. segments holds 0 for the
    first text and 1 for text_pair, specials included (a [SEP] belongs to the
    segment it closes).
    """

    tokens: list[str]
    offsets: list[tuple[int, int]]
    segments: list[int]
    special: list[bool]
    word_ids: list[int | None]

    def __post_init__(self) -> None:
        n = len(self.tokens)
        if not (len(self.offsets) == len(self.segments) == len(self.special) == len(self.word_ids) == n):
            raise ValueError("TokenInfo lists must all have one entry per token")


@dataclass(frozen=True)
class WordSpan:
    """One displayed word: an exact substring of its segment, or a special token."""

    text: str
    segment: int
    start: int  # character offsets into texts[segment]; 0, 0 for special tokens
    end: int
    pieces: tuple[int, ...]  # token indices that make up this word
    special: bool = False


def token_info(encoding: Any) -> TokenInfo:
    """TokenInfo from a fast tokenizer's Encoding (``batch_encoding.encodings[i]``).

    The encoding must come from a call with ``return_special_tokens_mask=True``.
    Specials take the segment of the text they close, so a pair's [SEP] sits with
    its own segment.
    """
    segments, current = [], 0
    for seq_id in encoding.sequence_ids:
        current = current if seq_id is None else int(seq_id)
        segments.append(current)
    return TokenInfo(
        tokens=list(encoding.tokens),
        offsets=[(int(a), int(b)) for a, b in encoding.offsets],
        segments=segments,
        special=[bool(s) for s in encoding.special_tokens_mask],
        word_ids=list(encoding.word_ids),
    )


def is_cjk_char(ch: str) -> bool:
    """True for CJK ideographs, the characters BERT's basic tokenizer splits one by one."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def group_words(info: TokenInfo, texts: Sequence[str]) -> list[WordSpan]:
    """Merge token pieces into words in reading order.

    texts: the segment texts as given to the tokenizer ([text] or [text, text_pair]).
    Pieces are merged when they are in the same segment and either share the
    tokenizer's word id or touch in the text (no whitespace between them); a piece
    that is a single CJK ideograph is always a word of its own.
    """
    words: list[WordSpan] = []
    cur: dict | None = None  # the word being built: segment, start, end, pieces, word_id, cjk

    def flush() -> None:
        nonlocal cur
        if cur is not None:
            seg = cur["segment"]
            words.append(
                WordSpan(texts[seg][cur["start"]:cur["end"]], seg, cur["start"], cur["end"], tuple(cur["pieces"]))
            )
            cur = None

    for i, token in enumerate(info.tokens):
        if info.special[i]:
            flush()
            words.append(WordSpan(token, info.segments[i], 0, 0, (i,), special=True))
            continue
        seg = info.segments[i]
        start, end = info.offsets[i]
        if start == end:
            # a piece with no characters behind it (rare); it belongs to the word it follows
            if cur is not None and cur["segment"] == seg:
                cur["pieces"].append(i)
            continue
        piece = texts[seg][start:end]
        cjk = len(piece) == 1 and is_cjk_char(piece)
        wid = info.word_ids[i]
        joins = (
            cur is not None
            and cur["segment"] == seg
            and not cjk
            and not cur["cjk"]
            and ((wid is not None and wid == cur["word_id"]) or start <= cur["end"])
        )
        if joins:
            cur["end"] = max(cur["end"], end)
            cur["pieces"].append(i)
            cur["word_id"] = wid
        else:
            flush()
            cur = {"segment": seg, "start": start, "end": end, "pieces": [i], "word_id": wid, "cjk": cjk}
    flush()
    return words


def pool_scores(words: Sequence[WordSpan], token_scores: np.ndarray) -> np.ndarray:
    """Per-word scores: the sum over each word's pieces.

    Summing keeps the meaning of both attention (attention *to* a word is the
    attention to all its pieces) and Integrated Gradients (attributions stay
    complete: word scores still add up to logit(x) - logit(baseline)).
    """
    scores = np.asarray(token_scores, dtype=np.float64)
    return np.array([scores[list(w.pieces)].sum() for w in words], dtype=np.float64)


def pool_matrix(words: Sequence[WordSpan], matrix: np.ndarray) -> np.ndarray:
    """Token×token attention → word×word: rows averaged over a word's pieces, columns summed.

    This is Clark et al. (2019)'s convention: attention *from* a split word is the
    mean of its pieces' rows, attention *to* it the sum, so each row still sums to 1.
    """
    m = np.asarray(matrix, dtype=np.float64)
    cols = np.stack([m[:, list(w.pieces)].sum(axis=1) for w in words], axis=1)
    return np.stack([cols[list(w.pieces), :].mean(axis=0) for w in words], axis=0)


def visible_indices(words: Sequence[WordSpan], show_special: bool) -> list[int]:
    """Indices of the words to display: all, or all but [CLS]/[SEP]/… ."""
    return [i for i, w in enumerate(words) if show_special or not w.special]


def delete_words(texts: Sequence[str], words: Sequence[WordSpan]) -> list[str]:
    """The segment texts with the given words cut out (by character span; specials ignored)."""
    out = list(texts)
    for seg in range(len(out)):
        spans = sorted((w.start, w.end) for w in words if w.segment == seg and not w.special)
        text, pieces, pos = out[seg], [], 0
        for start, end in spans:
            pieces.append(text[pos:start])
            pos = max(pos, end)
        pieces.append(text[pos:])
        out[seg] = "".join(pieces)
    return out
