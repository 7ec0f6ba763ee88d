"""ResNet-50 v1.5 image classification in plain torch.

Parameter names match torchvision's ``resnet50`` checkpoint keys (``conv1.weight``,
``layer1.0.downsample.0.weight``, ``fc.bias`` …) so ``--weights`` loads a published
checkpoint. v1.5 puts the stride-2 on the 3×3 convolution of each bottleneck.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flagbench.api.contracts import LabelledData, OnnxExport

if TYPE_CHECKING:
    import torch

IMAGE_SIZE = 224
NUM_CLASSES = 1000
# (blocks, width) for each of the four stages of ResNet-50.
_STAGES = ((3, 64), (4, 128), (6, 256), (3, 512))
_EXPANSION = 4


def _build(num_classes: int = NUM_CLASSES) -> torch.nn.Module:
    """Define and build the network; torch is imported here so listing cases stays fast."""
    from torch import Tensor, nn

    class Bottleneck(nn.Module):
        def __init__(self, inplanes: int, width: int, stride: int, downsample: nn.Module | None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(width)
            self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(width)
            self.conv3 = nn.Conv2d(width, width * _EXPANSION, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(width * _EXPANSION)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x: Tensor) -> Tensor:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            result: Tensor = self.relu(out + identity)
            return result

    class ResNet50(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            inplanes = 64
            for i, (blocks, width) in enumerate(_STAGES):
                stride = 1 if i == 0 else 2
                layers: list[nn.Module] = []
                for b in range(blocks):
                    down = None
                    if b == 0:
                        down = nn.Sequential(
                            nn.Conv2d(inplanes, width * _EXPANSION, 1, stride=stride, bias=False),
                            nn.BatchNorm2d(width * _EXPANSION),
                        )
                    layers.append(Bottleneck(inplanes, width, stride if b == 0 else 1, down))
                    inplanes = width * _EXPANSION
                setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512 * _EXPANSION, num_classes)
            for m in self.modules():  # torchvision's initialisation
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x: Tensor) -> Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for i in range(len(_STAGES)):
                stage: nn.Module = getattr(self, f"layer{i + 1}")
                x = stage(x)
            logits: Tensor = self.fc(self.avgpool(x).flatten(1))
            return logits

    return ResNet50()


class ResNet50Case:
    """ImageNet classification with ResNet-50 v1.5 on 3×224×224 inputs."""

    name = "resnet50"
    description = "ResNet-50 v1.5 image classification, 3×224×224, 1000 classes"
    task = "classification"
    onnx_export = OnnxExport(input_names=("image",), output_names=("logits",))
    #: Seed of the random weights used when no checkpoint is given.
    weight_seed = 0

    def build_model(self) -> torch.nn.Module:
        """Build with deterministic random weights, in eval mode, without touching global RNG."""
        from flagbench.run.weights import build_seeded

        return build_seeded(_build, self.weight_seed)

    def make_inputs(self, batch_size: int, seed: int) -> tuple[torch.Tensor, ...]:
        """Standard-normal images, as after ImageNet normalisation, from a private generator."""
        import torch

        gen = torch.Generator().manual_seed(seed)
        return (torch.randn(batch_size, 3, IMAGE_SIZE, IMAGE_SIZE, generator=gen),)

    def check_data(self, path: str) -> None:
        """``--data`` must be an ImageFolder of images with at most 1,000 classes."""
        from flagbench.cases.imagefolder import check_imagenet_folder

        check_imagenet_folder(path, NUM_CLASSES)

    def evaluation(self, data: str | None) -> LabelledData | None:
        """With ``--data``: the ImageFolder there, ImageNet-preprocessed, for top-1 and top-5
        accuracy. Without it there is nothing to evaluate (no dataset can be downloaded)."""
        if data is None:
            return None
        from flagbench.cases.imagefolder import imagenet_evaluation

        labelled: LabelledData = imagenet_evaluation(data, NUM_CLASSES)
        return labelled
