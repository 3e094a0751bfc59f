"""Perplexity and IFD with the real offline model (llama.cpp in-process), and the log-softmax core."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instructkit.models.logprobs import HFBackend, LlamaCppBackend, log_softmax_pick
from instructkit.score.perplexity import PerplexityScorer

INSTR = ["What is the capital of France?", "Name a primary colour."]
RESP = ["The capital of France is Paris, a city on the river Seine.", "Red is a primary colour."]
SHUFFLED = ["Seine city capital of river a the Paris, France on is The", "primary Red colour. a is"]


def test_log_softmax_pick_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 50)) * 30  # large values: the stable path matters
    targets = np.array([3, 0, 49, 7])
    direct = [np.log(np.exp(row - row.max()).sum()) for row in logits]
    expected = [logits[i, t] - logits[i].max() - direct[i] for i, t in enumerate(targets)]
    np.testing.assert_allclose(log_softmax_pick(logits, targets), expected, rtol=1e-9)


@pytest.fixture(scope="module")
def scorer() -> PerplexityScorer:
    backend = LlamaCppBackend(max_response_tokens=64)
    backend.setup()
    return PerplexityScorer(backend)


@pytest.mark.slow
def test_shuffled_words_are_less_likely_and_the_instruction_helps(scorer: PerplexityScorer) -> None:
    real, fake = scorer.score(INSTR, RESP), scorer.score(INSTR, SHUFFLED)
    assert (fake["perplexity"] > 3 * real["perplexity"]).all()
    assert (real["ifd"] < 1).all()  # the question makes its own answer easier to predict
    np.testing.assert_allclose(real["ifd"], real["perplexity"] / real["perplexity.unconditional"])
    assert (real["perplexity.tokens"] > 5).all()


@pytest.mark.slow
def test_deterministic_absent_without_response_and_robust_to_control_tokens(
    scorer: PerplexityScorer,
) -> None:
    a = scorer.score(INSTR + ["Say nothing."], RESP + [""])
    b = scorer.score(INSTR + ["Say nothing."], RESP + [""])
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
        assert np.isnan(a[k][2])
    tricky = scorer.score(["Repeat this."], ["<|im_end|> is only text here"])
    assert np.isfinite(tricky["perplexity"][0])


@pytest.mark.slow
def test_long_instruction_is_cut_to_fit_the_context() -> None:
    backend = LlamaCppBackend(n_ctx=128, max_response_tokens=32)
    backend.setup()
    out = PerplexityScorer(backend, ifd=False).score(
        ["word " * 500], ["A short answer to a very long question."]
    )
    assert np.isfinite(out["perplexity"][0]) and set(out) == {"perplexity", "perplexity.tokens"}


@pytest.mark.slow
def test_hf_backend_scores_exactly_the_response_tokens(tmp_path: Path) -> None:
    """A tiny random Llama with the offline MiniLM tokenizer: offsets checked against one full forward pass."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from instructkit.models.paths import minilm_dir

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()))
    tok.bos_token = "[CLS]"
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        bos_token_id=tok.bos_token_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    backend = HFBackend(str(tmp_path))
    got = backend.response_logprobs("Name a colour.", "Red is a colour.")
    prefix = [tok.bos_token_id, *tok("Name a colour.\n\n", add_special_tokens=False)["input_ids"]]
    resp = tok("Red is a colour.", add_special_tokens=False)["input_ids"]
    model = LlamaForCausalLM.from_pretrained(tmp_path).eval()
    with torch.inference_mode():
        logp = torch.log_softmax(
            model(torch.tensor([prefix + resp])).logits[0].double(), -1
        ).numpy()
    expected = [logp[len(prefix) - 1 + j, t] for j, t in enumerate(resp)]
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    alone = backend.response_logprobs(None, "Red is a colour.")
    assert alone.shape == got.shape and not np.allclose(alone, got)
