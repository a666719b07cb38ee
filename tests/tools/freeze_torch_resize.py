"""Freeze torch.nn.functional.interpolate's outputs and input gradients
for tests/layers/test_resize.py, so the tests do not need torch.

Run:  /work/main/.venv/bin/python tests/tools/freeze_torch_resize.py
The input is ``arange(2 * 3 * 4).reshape(1, 2, 3, 4) ** 1.5 / 10`` (float64);
the gradient is that of ``sum(out * weights)`` with
``weights = cos(arange(out.size)).reshape(out.shape)``.
"""
import torch
import torch.nn.functional as F

CASES = {
    "bilinear_up": dict(size=(5, 7), mode="bilinear", align_corners=False),
    "bilinear_down": dict(size=(2, 3), mode="bilinear", align_corners=False),
    "bilinear_corners": dict(size=(5, 7), mode="bilinear", align_corners=True),
    "nearest_up": dict(size=(5, 7), mode="nearest"),
    "nearest_down": dict(size=(2, 3), mode="nearest"),
    "bilinear_x2": dict(scale_factor=2, mode="bilinear", align_corners=False),
}


def main():
    torch.set_default_dtype(torch.float64)
    print(f"# Frozen by tests/tools/freeze_torch_resize.py with torch {torch.__version__}")
    print("TORCH_RESIZE = {")
    for name, kwargs in CASES.items():
        x = (torch.arange(24.0).reshape(1, 2, 3, 4) ** 1.5 / 10).requires_grad_()
        out = F.interpolate(x, **kwargs)
        weights = torch.cos(torch.arange(float(out.numel()))).reshape(out.shape)
        (out * weights).sum().backward()
        print(f"    {name!r}: ({kwargs!r},")
        print(f"        {out.detach().tolist()!r},")
        print(f"        {x.grad.tolist()!r}),")
    print("}")


if __name__ == "__main__":
    main()
