import dataclasses

import pytest
import torch

from debristrack.errors import InputError
from debristrack.sdtnet.model import ModelConfig, SDTNet, resolve_device


@pytest.mark.parametrize("roi_fe,offset", [(True, True), (False, True), (True, False)])
def test_head_shapes(tiny_config, roi_fe, offset):
    config = dataclasses.replace(tiny_config, roi_fe=roi_fe, offset=offset)
    model = SDTNet(config).eval()
    x = torch.rand(2, 1, 64, 96)
    with torch.no_grad():
        out = model(x, x, torch.zeros(2, 2, 64, 96))
    expected = {"hm": 2, "emb": 2 * config.emb_dim, "reg": 4}
    if roi_fe:
        expected["mask"] = 1
    if offset:
        expected["off"] = 4
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (2, c, 16, 24) for k, c in expected.items()}


@pytest.mark.parametrize("offset", [True, False])
def test_centre_variant_head_shapes(tiny_config, offset):
    model = SDTNet(dataclasses.replace(tiny_config, detection="centre", offset=offset)).eval()
    x = torch.rand(1, 1, 32, 32)
    with torch.no_grad():
        out = model(x, x, torch.zeros(1, 2, 32, 32))
    expected = {"mask": 1, "hm": 1, "wh": 2, "reg": 2} | ({"off": 2} if offset else {})
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (1, c, 8, 8) for k, c in expected.items()}


def test_unknown_detection(tiny_config):
    with pytest.raises(InputError, match="unknown detection 'boxes'"):
        SDTNet(dataclasses.replace(tiny_config, detection="boxes"))


def test_paper_variant_is_dla34_sized():
    n = sum(p.numel() for p in SDTNet(ModelConfig()).encoder.parameters())
    assert 15e6 < n < 20e6  # DLA-34's encoder has ~16-18 M parameters


def test_unknown_device():
    with pytest.raises(InputError, match="unknown device 'tpu'"):
        resolve_device("tpu")
