#!/usr/bin/python3
"""Writes the small ONNX files of the researcher's-path test (issue 17) the
way a PyTorch user makes them: torch.onnx.export of randomly initialised
modules, NCHW input, dynamic batch/height/width, tensor and node names from
the module paths (torch >= 1.13), a tied weight that the exporter writes as
an Identity of an initialiser.

Run from this folder with Debian's python3-torch and python3-onnx:
    /usr/bin/python3 gen.py
Written with torch 1.13.0a0 and onnx 1.12.0 (Debian bookworm); the versions
are also stored in versions.txt. The files are committed; nothing is
exported at test time.
"""
import hashlib

import onnx
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(x + self.bn2(self.conv2(y)))


class TinyResNet(nn.Module):
    """A resnet18 in miniature: stem, two residual stages, pooled head."""

    def __init__(self, width=8, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, width, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(Block(width))
        self.layer2 = nn.Sequential(Block(width))
        # Tied weights: the exporter keeps one initialiser and writes the
        # second use through an Identity node.
        self.layer2[0].conv2.weight = self.layer1[0].conv2.weight
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class SmallCNN(nn.Module):
    """A plain alexnet-like stack (features / classifier, as torchvision names them)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 6, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(inplace=True),
        )
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(8, 16), nn.ReLU(inplace=True), nn.Linear(16, 10))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def export(model, path, opset, seed):
    model.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(seed))
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    onnx.checker.check_model(onnx.load(path))
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    lines = [f"torch {torch.__version__}", f"onnx {onnx.__version__}"]
    torch.manual_seed(17)
    lines.append("tinyresnet.onnx opset 17 sha256 " + export(TinyResNet(), "tinyresnet.onnx", 17, 1))
    torch.manual_seed(18)
    lines.append("smallcnn.onnx opset 13 sha256 " + export(SmallCNN(), "smallcnn.onnx", 13, 2))
    with open("versions.txt", "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
