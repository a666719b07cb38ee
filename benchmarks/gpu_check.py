#!/usr/bin/env python
"""mode="JAX" next to PyTorch on the same GPU: training steps of the MNIST
CNN, ResNet-20 and an LSTM, and the ratios of their throughputs.

Both libraries keep the batch on the device (PyTensor's ``trust_input``
takes JAX arrays as they are), and every timed step waits for its result
(``block_until_ready`` / ``torch.cuda.synchronize``). Rounds alternate
(ours, PyTorch, ours, ...) and the best round of each counts.

Needs a CUDA build of jaxlib and of PyTorch. Without a GPU it runs on the
CPU: ``--smoke`` shrinks every size so that it checks the script works.

    python benchmarks/gpu_check.py [--smoke] [--only cnn,resnet20,lstm]
"""
import argparse
import time

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--smoke", action="store_true",
                    help="tiny sizes and few steps (a CPU check of the script)")
parser.add_argument("--only", default="cnn,resnet20,lstm")
parser.add_argument("--steps", type=int, default=20)
parser.add_argument("--rounds", type=int, default=5)
args = parser.parse_args()
if args.smoke:
    args.steps, args.rounds = 2, 2

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytensor  # noqa: E402
pytensor.config.floatX = "float32"
import pytensor.tensor as pt  # noqa: E402
import torch  # noqa: E402
import torch.nn as tnn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import lasagne  # noqa: E402
from lasagne import layers as L  # noqa: E402
from lasagne.nonlinearities import rectify, softmax  # noqa: E402

TORCH_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
JAX_DEVICE = jax.devices()[0]


def torch_sync():
    if TORCH_DEVICE == "cuda":
        torch.cuda.synchronize()


def best_rate(step, batch, sync):
    times = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        sync()
        times.append(time.perf_counter() - start)
    return batch * args.steps / min(times)


def ours_step(net, input_var, X, y, updates_fn):
    y_var = pt.ivector("y")
    out = L.get_output(net)
    loss = lasagne.objectives.categorical_crossentropy(out, y_var).mean()
    params = L.get_all_params(net, trainable=True)
    start = time.perf_counter()
    fn = pytensor.function([input_var, y_var], loss,
                           updates=updates_fn(loss, params), mode="JAX")
    fn.trust_input = True
    Xd, yd = jax.device_put(X, JAX_DEVICE), jax.device_put(y, JAX_DEVICE)
    last = [fn(Xd, yd)]
    jax.block_until_ready(last[0])
    compile_s = time.perf_counter() - start

    def step():
        last[0] = fn(Xd, yd)
    return step, (lambda: jax.block_until_ready(last[0])), compile_s


def torch_step(model, X, y, make_opt):
    model = model.to(TORCH_DEVICE)
    opt = make_opt(model.parameters())
    tX = torch.from_numpy(X).to(TORCH_DEVICE)
    ty = torch.from_numpy(y).long().to(TORCH_DEVICE)

    def step():
        opt.zero_grad()
        F.cross_entropy(model(tX), ty).backward()
        opt.step()
    return step


def run(name, ours, theirs, batch):
    step, sync, compile_s = ours
    step()
    theirs()
    torch_sync()  # warm up
    rates = []
    for _ in range(2):  # interleave the two libraries
        rates.append(best_rate(step, batch, sync))
        rates.append(best_rate(theirs, batch, torch_sync))
    ours_rate, torch_rate = max(rates[0::2]), max(rates[1::2])
    print(f"{name:<22} JAX {ours_rate:9.0f}/s   PyTorch {torch_rate:9.0f}/s"
          f"   ratio {ours_rate / torch_rate:5.2f}   compile {compile_s:5.1f}s",
          flush=True)


def batch_of(shape, classes, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random(shape, dtype=np.float32),
            rng.integers(0, classes, shape[0]).astype(np.int32))


def nesterov(loss, params):
    return lasagne.updates.nesterov_momentum(loss, params, 0.01, 0.9)


def torch_nesterov(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9, nesterov=True)


def mnist_cnn():
    batch = 8 if args.smoke else 500
    X, y = batch_of((batch, 1, 28, 28), 10)
    x = pt.tensor4("x")
    net = L.InputLayer((None, 1, 28, 28), x)
    net = L.MaxPool2DLayer(L.Conv2DLayer(net, 32, 5), 2)
    net = L.MaxPool2DLayer(L.Conv2DLayer(net, 32, 5), 2)
    net = L.DenseLayer(L.DropoutLayer(net, 0.5), 256)
    net = L.DenseLayer(L.DropoutLayer(net, 0.5), 10, nonlinearity=softmax)
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 32, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Flatten(),
        tnn.Dropout(0.5), tnn.Linear(512, 256), tnn.ReLU(),
        tnn.Dropout(0.5), tnn.Linear(256, 10))
    run(f"MNIST CNN (batch {batch})", ours_step(net, x, X, y, nesterov),
        torch_step(model, X, y, torch_nesterov), batch)


def resnet20():
    """ResNet-20 for CIFAR-10: three stages of three residual blocks (16,
    32, 64 channels), 1x1 projection shortcuts where the shape changes."""
    batch = 4 if args.smoke else 128
    X, y = batch_of((batch, 3, 32, 32), 10)
    x = pt.tensor4("x")

    def conv_bn(net, width, stride=1, nonlinearity=rectify):
        return L.batch_norm(L.Conv2DLayer(net, width, 3, stride=stride,
                                          pad=1, nonlinearity=nonlinearity))

    net = conv_bn(L.InputLayer((None, 3, 32, 32), x), 16)
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            stride = 2 if stage and not block else 1
            branch = conv_bn(conv_bn(net, width, stride), width,
                             nonlinearity=None)
            shortcut = net if stride == 1 else L.batch_norm(L.Conv2DLayer(
                net, width, 1, stride=stride, nonlinearity=None))
            net = L.NonlinearityLayer(L.ElemwiseSumLayer([shortcut, branch]),
                                      rectify)
    net = L.DenseLayer(L.GlobalPoolLayer(net), 10, nonlinearity=softmax)

    class Block(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.b1 = tnn.BatchNorm2d(cout)
            self.c2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.b2 = tnn.BatchNorm2d(cout)
            self.short = (tnn.Identity() if stride == 1 else tnn.Sequential(
                tnn.Conv2d(cin, cout, 1, stride, bias=False),
                tnn.BatchNorm2d(cout)))

        def forward(self, x):
            out = self.b2(self.c2(F.relu(self.b1(self.c1(x)))))
            return F.relu(out + self.short(x))

    blocks, cin = [], 16
    for stage, width in enumerate((16, 32, 64)):
        for block in range(3):
            blocks.append(Block(cin, width, 2 if stage and not block else 1))
            cin = width
    model = tnn.Sequential(
        tnn.Conv2d(3, 16, 3, padding=1, bias=False), tnn.BatchNorm2d(16),
        tnn.ReLU(), *blocks, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(),
        tnn.Linear(64, 10))
    run(f"ResNet-20 (batch {batch})", ours_step(net, x, X, y, nesterov),
        torch_step(model, X, y, torch_nesterov), batch)


def lstm():
    batch, length, features, units = ((4, 10, 8, 16) if args.smoke
                                      else (64, 100, 32, 256))
    X, y = batch_of((batch, length, features), 10)
    x = pt.tensor3("x")
    net = L.LSTMLayer(L.InputLayer((None, length, features), x), units,
                      only_return_final=True)
    net = L.DenseLayer(net, 10, nonlinearity=softmax)

    class Model(tnn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = tnn.LSTM(features, units, batch_first=True)
            self.dense = tnn.Linear(units, 10)

        def forward(self, x):
            return self.dense(self.lstm(x)[0][:, -1])

    run(f"LSTM {units} (batch {batch})",
        ours_step(net, x, X, y,
                  lambda loss, p: lasagne.updates.adam(loss, p, 1e-3)),
        torch_step(Model(), X, y,
                   lambda p: torch.optim.Adam(p, lr=1e-3)), batch)


print(f"JAX device: {JAX_DEVICE.platform} ({JAX_DEVICE.device_kind});  "
      f"PyTorch device: {TORCH_DEVICE};  float32, samples/s")
if (JAX_DEVICE.platform == "gpu") != (TORCH_DEVICE == "cuda"):
    print("warning: the two libraries do not run on the same kind of device")
for name in args.only.split(","):
    {"cnn": mnist_cnn, "resnet20": resnet20, "lstm": lstm}[name]()
