#!/usr/bin/python3
"""Makes torch_cnn.onnx, the torch.onnx.export fixture of issue 17 (layer
references by ONNX node name, tensor name and PyTorch module path).

Generated with (printed by this script when run):
  torch 1.13.0a0, onnx 1.12.0, python 3.11.2 (/usr/bin/python3, Debian python3-torch)
Run from this folder:  /usr/bin/python3 gen.py
The model is a small randomly initialised CNN shaped like torchvision's
ResNet (a stem, a Sequential "layer1" of two residual blocks, one with a
"downsample" Sequential, a "features" Sequential nested in a Sequential,
a classifier head), exported as torch.onnx.export does by default
(eval mode: BatchNorm folded into Conv; Identity/Constant initialisers),
opset 17, NCHW, dynamic batch, height and width. Weights are seeded.
"""
import sys

import onnx
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + idt)


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 5, 2, 2, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
        self.features = nn.Sequential(nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1), nn.ReLU()), nn.Conv2d(16, 16, 1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.features(self.layer1(x))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def main():
    torch.manual_seed(17)
    m = TinyNet().eval()
    x = torch.randn(1, 3, 64, 64)
    torch.onnx.export(m, x, "torch_cnn.onnx", opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch", 2: "height", 3: "width"}, "logits": {0: "batch"}})
    model = onnx.load("torch_cnn.onnx")
    onnx.checker.check_model(model)
    print(f"torch {torch.__version__}, onnx {onnx.__version__}, python {sys.version.split()[0]}")
    for n in model.graph.node:
        print(n.op_type, n.name, list(n.output))


if __name__ == "__main__":
    main()
