"""The PyTorch side of the benchmarks: one builder per workload.

Each builder takes the workload's options and returns a function running
one training step on a fixed random batch. They run in their own process
(:mod:`torch_worker`), never beside our code: importing lasagne tunes
glibc's allocator for the whole process, and PyTorch there would not run
as its own CPU guide sets it up.
"""
import numpy as np
import torch
import torch.nn as tnn
import torch.nn.functional as F


def random_batch(shape, n_classes, seed=0):
    """The same batch as ``common.random_batch`` (same seed, same draws)."""
    rng = np.random.default_rng(seed)
    X = rng.random(shape, dtype=np.float32)
    y = rng.integers(0, n_classes, shape[0]).astype(np.int32)
    return X, y


def _sgd_step(model, X, y, lr=0.01):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9,
                          nesterov=True)
    tX, ty = torch.from_numpy(X), torch.from_numpy(y).long()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(tX), ty).backward()
        opt.step()
    return step


def mlp(batch=500):
    X, y = random_batch((batch, 784), 10)
    model = tnn.Sequential(
        tnn.Dropout(0.2), tnn.Linear(784, 800), tnn.ReLU(),
        tnn.Dropout(0.5), tnn.Linear(800, 800), tnn.ReLU(),
        tnn.Dropout(0.5), tnn.Linear(800, 10))
    return _sgd_step(model, X, y)


def mnist_cnn(batch=500):
    X, y = random_batch((batch, 1, 28, 28), 10)
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Dropout(0.5), tnn.Linear(512, 256), tnn.ReLU(),
        tnn.Dropout(0.5), tnn.Linear(256, 10))
    return _sgd_step(model, X, y)


class _BasicBlock(tnn.Module):
    """Two 3x3 convolutions with batch norm; a projection shortcut (1x1
    convolution and batch norm) where the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = tnn.Conv2d(cin, cout, 3, stride, padding=1, bias=False)
        self.b1 = tnn.BatchNorm2d(cout)
        self.c2 = tnn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.b2 = tnn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = tnn.Sequential(
                tnn.Conv2d(cin, cout, 1, stride, bias=False),
                tnn.BatchNorm2d(cout))

    def forward(self, x):
        branch = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
        short = x if self.shortcut is None else self.shortcut(x)
        return F.relu(short + branch)


def resnet_style(batch=128, width=16, blocks=3):
    """bench_cnn.py's small ResNet-style network (no downsampling)."""
    X, y = random_batch((batch, 3, 32, 32), 10)
    model = tnn.Sequential(
        tnn.Conv2d(3, width, 3, padding=1, bias=False),
        tnn.BatchNorm2d(width), tnn.ReLU(),
        *[_BasicBlock(width, width, 1) for _ in range(blocks)],
        tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(width, 10))
    return _sgd_step(model, X, y)


def resnet20(batch=128, blocks=3):
    """ResNet-20 for CIFAR-10 (He et al. 2016, section 4.2)."""
    X, y = random_batch((batch, 3, 32, 32), 10)
    layers = [tnn.Conv2d(3, 16, 3, padding=1, bias=False),
              tnn.BatchNorm2d(16), tnn.ReLU()]
    cin = 16
    for stage, cout in enumerate((16, 32, 64)):
        for block in range(blocks):
            stride = 2 if stage > 0 and block == 0 else 1
            layers.append(_BasicBlock(cin, cout, stride))
            cin = cout
    model = tnn.Sequential(*layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(),
                           tnn.Linear(64, 10))
    return _sgd_step(model, X, y)


def lstm(batch=100, length=100, units=100, features=2):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (batch, length, features)).astype("float32")
    y = rng.uniform(-1, 1, (batch, 1)).astype("float32")
    torch.manual_seed(0)
    cell = tnn.LSTM(features, units, batch_first=True)
    dense = tnn.Linear(units, 1)
    opt = torch.optim.Adam(list(cell.parameters()) + list(dense.parameters()),
                           lr=1e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        out, _ = cell(xt)
        ((dense(out[:, -1]) - yt) ** 2).mean().backward()
        opt.step()
    return step
