"""Incremental detokenizers: the pieces they return join into exactly what a full decode gives."""

from __future__ import annotations

import random

import pytest

from rewardspec.detokenize import ByteDetokenizer, WindowDetokenizer


def test_bytes_split_inside_a_character_come_out_whole():
    pieces = {1: b"caf", 2: b"\xc3", 3: b"\xa9", 4: b" \xe2\x82", 5: b"\xac!", 6: b"\xff"}
    detok = ByteDetokenizer(pieces.__getitem__)
    assert [detok.push(t) for t in (1, 2, 3, 4, 5, 6)] == ["caf", "", "é", " ", "€!", ""]
    assert detok.flush() == ""
    detok = ByteDetokenizer(pieces.__getitem__)
    assert detok.push(2) == "" and detok.flush() == ""  # an unfinished character is dropped, as by "ignore"


tokenizers = pytest.importorskip("tokenizers")


@pytest.mark.parametrize("kind", ["bytelevel", "metaspace"])
def test_window_detokenizer_joins_to_the_full_decode(kind):
    from prm_fixtures import metaspace_tokenizer, qwen_tokenizer

    tok = qwen_tokenizer() if kind == "bytelevel" else metaspace_tokenizer()

    def decode(ids):
        return tok.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)

    rng = random.Random(0)
    texts = ["So 3 + 4 = 7.\n\nNext, café ≥ 5 €.", "  leading spaces and ünïcödé", "a\n\n\nb"]
    sequences = [tok.encode(t, add_special_tokens=False) for t in texts]
    sequences += [[rng.randrange(len(tok)) for _ in range(rng.randint(1, 60))] for _ in range(200)]
    for ids in sequences:
        detok = WindowDetokenizer(decode)
        joined = "".join(detok.push(t) for t in ids) + detok.flush()
        assert joined == decode(ids), ids


@pytest.mark.models
def test_byte_detokenizer_matches_llama_cpp_on_a_real_vocabulary():
    import llama_cpp

    from rewardspec.registry import resolve_gguf

    path, _ = resolve_gguf("tiny")
    llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)
    rng = random.Random(0)
    ids = llm.tokenize("So 3 + 4 = 7.\n\nThen café ≥ 5 €, 日本語.".encode(), add_bos=False)
    for seq in [ids] + [[rng.randrange(llm.n_vocab()) for _ in range(80)] for _ in range(50)]:
        detok = ByteDetokenizer(lambda t: llm.detokenize([t]))
        joined = "".join(detok.push(t) for t in seq) + detok.flush()
        assert joined == llm.detokenize(seq).decode("utf-8", errors="ignore")
