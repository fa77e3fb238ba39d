"""Word merging with the real bundled (uncased WordPiece) tokenizer, and the pure pooling helpers."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.explain.words import (
    TokenInfo,
    WordSpan,
    delete_words,
    group_words,
    pool_matrix,
    pool_scores,
    token_info,
    visible_indices,
)


def words_of(tokenizer, text, pair=None):
    enc = tokenizer(text, pair, return_offsets_mapping=True, return_special_tokens_mask=True)
    texts = [text] if pair is None else [text, pair]
    info = token_info(enc.encodings[0])
    return info, group_words(info, texts)


def test_english_pieces_merge_into_typed_words(bundled_tokenizer):
    text = "Unbelievably GOOD acting, don't miss naïve café!"
    info, words = words_of(bundled_tokenizer, text)
    shown = [w.text for w in words if not w.special]
    assert shown == ["Unbelievably", "GOOD", "acting,", "don't", "miss", "naïve", "café!"]
    assert any(t.startswith("##") for t in info.tokens)  # there were pieces to merge
    for w in words:
        if not w.special:
            assert text[w.start:w.end] == w.text  # exact substrings of the input


def test_chinese_characters_are_words_of_their_own(bundled_tokenizer):
    text = "我爱北京 ok"
    _, words = words_of(bundled_tokenizer, text)
    assert [w.text for w in words if not w.special] == ["我", "爱", "北", "京", "ok"]


def test_emoji_unk_maps_back_to_original_characters(bundled_tokenizer):
    text = "great 😀 stuff 👍🏽!"
    info, words = words_of(bundled_tokenizer, text)
    assert "[UNK]" in info.tokens
    shown = [w.text for w in words if not w.special]
    assert shown == ["great", "😀", "stuff", "👍🏽!"]


def test_special_tokens_shown_or_hidden(bundled_tokenizer):
    _, words = words_of(bundled_tokenizer, "hello world")
    assert [w.text for w in words] == ["[CLS]", "hello", "world", "[SEP]"]
    assert [words[i].text for i in visible_indices(words, show_special=False)] == ["hello", "world"]
    assert len(visible_indices(words, show_special=True)) == 4


def test_pair_segments_are_kept_apart(bundled_tokenizer):
    _, words = words_of(bundled_tokenizer, "a cat sat", "the cat")
    assert [(w.text, w.segment) for w in words] == [
        ("[CLS]", 0), ("a", 0), ("cat", 0), ("sat", 0), ("[SEP]", 0), ("the", 1), ("cat", 1), ("[SEP]", 1),
    ]
    assert words[6].start == 4 and words[6].end == 7  # offsets are into the pair's own text


def test_contiguous_pieces_never_merge_across_segments():
    info = TokenInfo(["a", "b"], [(0, 1), (0, 1)], [0, 1], [False, False], [0, 0])
    assert [w.segment for w in group_words(info, ["a", "b"])] == [0, 1]


def test_pool_scores_sums_pieces_and_keeps_total(bundled_tokenizer):
    info, words = words_of(bundled_tokenizer, "tokenization unbelievably")
    scores = np.random.default_rng(0).normal(size=len(info.tokens))
    pooled = pool_scores(words, scores)
    assert pooled.sum() == pytest.approx(scores.sum())


def test_pool_matrix_rows_still_sum_to_one(bundled_tokenizer):
    info, words = words_of(bundled_tokenizer, "tokenization is unbelievably fun")
    rng = np.random.default_rng(0)
    m = rng.random((len(info.tokens), len(info.tokens)))
    m /= m.sum(axis=1, keepdims=True)
    wm = pool_matrix(words, m)
    assert wm.shape == (len(words), len(words))
    np.testing.assert_allclose(wm.sum(axis=1), 1.0)


def test_delete_words_cuts_exact_spans():
    words = [WordSpan("good", 0, 4, 8, (1,)), WordSpan("bad", 1, 0, 3, (5,)), WordSpan("[CLS]", 0, 0, 0, (0,), True)]
    assert delete_words(["not good at all", "bad idea"], words) == ["not  at all", " idea"]
