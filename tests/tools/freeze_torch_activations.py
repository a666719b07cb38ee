"""Freeze PyTorch's values of the modern nonlinearities (and their
derivatives) for tests/test_nonlinearities_modern.py, so the tests do not
need torch.

Run:  PYTHONPATH=. /work/main/.venv/bin/python tests/tools/freeze_torch_activations.py
It prints ``TORCH_INPUT``, ``TORCH_VALUES`` and ``TORCH_GRADS`` to paste
into the test file. Values are float64; gradients are d(sum f(x))/dx.
"""
import torch
import torch.nn.functional as F

INPUT = [-40.0, -6.0, -3.2, -2.5, -1.0, -0.3, 0.2, 0.7, 1.0, 2.9, 3.1, 8.0, 40.0]
LOG_SOFTMAX_INPUT = [[0.5, -1.0, 2.0, 0.0], [1000.0, -1000.0, 3.0, 999.0]]

FUNCTIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
    "mish": F.mish,
    "hard_sigmoid": F.hardsigmoid,
    "hard_swish": F.hardswish,
    "softsign": F.softsign,
}


def main():
    torch.set_default_dtype(torch.float64)
    print(f"# Frozen by tests/tools/freeze_torch_activations.py with torch "
          f"{torch.__version__}")
    print(f"TORCH_INPUT = {INPUT!r}")
    values, grads = {}, {}
    for name, fn in FUNCTIONS.items():
        x = torch.tensor(INPUT, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        values[name] = y.detach().tolist()
        grads[name] = x.grad.tolist()
    x = torch.tensor(LOG_SOFTMAX_INPUT, requires_grad=True)
    y = F.log_softmax(x, dim=-1)
    # a weighted sum, since the plain sum of a log-softmax has a zero-ish
    # gradient structure that hides errors
    (y * torch.arange(4.0)).sum().backward()
    print(f"LOG_SOFTMAX_INPUT = {LOG_SOFTMAX_INPUT!r}")
    print(f"TORCH_LOG_SOFTMAX = {y.detach().tolist()!r}")
    print(f"TORCH_LOG_SOFTMAX_GRAD = {x.grad.tolist()!r}")
    for label, table in (("TORCH_VALUES", values), ("TORCH_GRADS", grads)):
        print(f"{label} = {{")
        for name, row in table.items():
            print(f"    {name!r}: {row!r},")
        print("}")


if __name__ == "__main__":
    main()
