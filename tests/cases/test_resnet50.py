"""The resnet50 case matches torchvision's checkpoint layout and is deterministic."""

from __future__ import annotations

import torch

from flagbench.cases.resnet50 import ResNet50Case

# A sample of torchvision resnet50 state-dict keys with their shapes.
TORCHVISION_KEYS = {
    "conv1.weight": (64, 3, 7, 7),
    "bn1.running_var": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer2.0.conv2.weight": (128, 128, 3, 3),
    "layer3.5.bn3.num_batches_tracked": (),
    "layer4.2.conv3.weight": (2048, 512, 1, 1),
    "fc.weight": (1000, 2048),
    "fc.bias": (1000,),
}


def test_parameter_names_and_count_match_torchvision() -> None:
    model = ResNet50Case().build_model()
    state = model.state_dict()
    for key, shape in TORCHVISION_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    assert len(state) == 320  # torchvision resnet50().state_dict() has 320 entries
    assert sum(p.numel() for p in model.parameters()) == 25_557_032


def test_v1_5_puts_stride_on_the_3x3_conv() -> None:
    model = ResNet50Case().build_model()
    assert model.layer2[0].conv1.stride == (1, 1)
    assert model.layer2[0].conv2.stride == (2, 2)


def test_weights_and_inputs_are_deterministic() -> None:
    case = ResNet50Case()
    a, b = case.build_model(), case.build_model()
    assert torch.equal(a.fc.weight, b.fc.weight)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    case.build_model()
    case.make_inputs(2, 0)
    assert torch.equal(torch.rand(1), before)  # the global RNG is left alone
    x1, x2 = case.make_inputs(2, 5)[0], case.make_inputs(2, 5)[0]
    assert x1.shape == (2, 3, 224, 224) and torch.equal(x1, x2)
    assert not torch.equal(x1, case.make_inputs(2, 6)[0])


def test_forward_gives_logits() -> None:
    case = ResNet50Case()
    with torch.inference_mode():
        out = case.build_model()(*case.make_inputs(2, 0))
    assert out.shape == (2, 1000) and torch.isfinite(out).all()
