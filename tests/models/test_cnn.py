"""The CNN's inference path: the convolutions as sums of looked-up products, equal to the
convolutions themselves."""

from __future__ import annotations

import pytest
import torch

from oncoclass.models.cnn import TextCNN


@pytest.fixture(scope="module")
def net() -> TextCNN:
    torch.manual_seed(3)
    return TextCNN(vocab_size=500, emb_dim=24, n_filters=8, widths=(3, 4, 5), dropout=0.3).eval()


def _batch() -> torch.Tensor:
    g = torch.Generator().manual_seed(5)
    text = torch.randint(1, 500, (60,), generator=g)
    rows = [text]
    # Near-copies of one text, each without a piece (as an explanation scores them), padded.
    for i in range(0, 60, 12):
        kept = torch.cat([text[:i], text[i + 12 :]])
        rows.append(torch.nn.functional.pad(kept, (0, 60 - len(kept))))
    rows.append(torch.nn.functional.pad(text[:2], (0, 58)))  # shorter than every width
    rows.append(torch.randint(1, 500, (60,), generator=g))  # another text, other words
    return torch.stack(rows)


@torch.inference_mode()
def test_looked_up_windows_equal_the_convolutions(net):
    tokens = _batch()
    for conv, by_lookup in zip(net._windows(tokens), net._windows_by_lookup(tokens), strict=True):
        assert by_lookup.shape == conv.shape
        torch.testing.assert_close(by_lookup, conv, rtol=1e-5, atol=1e-5)


@torch.inference_mode()
def test_inference_reads_the_lookup_and_training_the_convolutions(net, monkeypatch):
    tokens = _batch()
    expected = net({"tokens": tokens})
    with monkeypatch.context() as m:  # eval mode: the convolutions never run
        m.setattr(net, "_windows", lambda t: pytest.fail("inference ran the convolutions"))
        torch.testing.assert_close(net({"tokens": tokens}), expected)
    net.train()
    try:  # training: dropout acts on each position's embedding, so the convolutions run
        with monkeypatch.context() as m:
            m.setattr(net, "_windows_by_lookup", lambda t: pytest.fail("training read the lookup"))
            net({"tokens": tokens})
    finally:
        net.eval()


@torch.inference_mode()
def test_a_text_answer_does_not_depend_on_its_batch_mates(net):
    tokens = _batch()
    together = net({"tokens": tokens})
    for i in range(len(tokens)):
        length = int((tokens[i] != 0).sum().clamp(min=5))
        alone = net({"tokens": tokens[i : i + 1, :length]})
        torch.testing.assert_close(alone[0], together[i], rtol=1e-5, atol=1e-6)
