"""Freeze reference trajectories of PyTorch's optimizers for
tests/test_updates.py, so that the tests do not need torch.

Run:  /work/venv/bin/python tests/tools/freeze_torch_optim.py
It prints a Python literal, ``TORCH_TRAJECTORIES = {...}``, to paste into
tests/test_updates.py (together with the problem data, printed first).

The problem is a tiny least-squares fit in float64,
``loss = 0.5 * sum((A @ w + b - y)**2)`` with a weight vector ``w`` and a
bias ``b``; each optimizer runs STEPS steps from the same start and we
record ``(w, b)`` after every step.

Each PyTorch configuration is chosen to compute exactly Lasagne's update
rule (lasagne.updates), which differs from PyTorch's in a few places:

* SGD momentum / Nesterov: PyTorch keeps ``buf = mu * buf + g`` and steps
  ``-lr * buf`` (Nesterov: ``-lr * (g + mu * buf)``); Lasagne keeps
  ``v = mu * v - lr * g``. With dampening=0 and a constant learning rate,
  ``v == -lr * buf`` at every step (also the first, where PyTorch sets
  ``buf = g``), so the trajectories are identical.
* Adagrad and RMSprop: PyTorch adds epsilon outside the square root,
  Lasagne inside. Both are run with epsilon = 0 here; the placement of
  epsilon is tested against a numpy reference in the test file.
* Adadelta: epsilon is inside both square roots in both libraries, so any
  epsilon matches (a large one, 1e-3, makes the steps visible).
* Adam and AMSGrad: PyTorch divides by ``sqrt(v) / sqrt(1 - beta2**t) + eps``,
  Lasagne folds the bias correction into the step size and divides by
  ``sqrt(v) + eps``; identical for epsilon = 0. PyTorch's amsgrad takes
  the maximum of the uncorrected second moments, as Lasagne does. AMSGrad
  runs with beta2 = 0.5 so that the maximum is actually reached within the
  few steps (the script checks this).
* Adamax: PyTorch uses ``max(beta2 * u, |g| + eps)``, Lasagne
  ``max(beta2 * u, |g|)`` and divides by ``u + eps``; identical for
  epsilon = 0.
"""
import torch

STEPS = 5
A = [[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [-0.7, 0.4, 1.1], [1.5, 0.2, -0.3]]
Y = [1.0, -2.0, 0.5, 3.0]
W0 = [0.1, -0.2, 0.3]
B0 = [0.05]

# name -> (torch optimizer factory, lasagne.updates call as documentation)
CONFIGS = {
    "sgd": (lambda p: torch.optim.SGD(p, lr=0.05),
            "sgd(loss, params, learning_rate=0.05)"),
    "momentum": (lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
                 "momentum(loss, params, learning_rate=0.05, momentum=0.9)"),
    "nesterov_momentum": (
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        "nesterov_momentum(loss, params, learning_rate=0.05, momentum=0.9)"),
    "adagrad": (lambda p: torch.optim.Adagrad(p, lr=0.5, eps=0.0),
                "adagrad(loss, params, learning_rate=0.5, epsilon=0.0)"),
    "rmsprop": (lambda p: torch.optim.RMSprop(p, lr=0.05, alpha=0.9, eps=0.0),
                "rmsprop(loss, params, learning_rate=0.05, rho=0.9, epsilon=0.0)"),
    "adadelta": (lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-3),
                 "adadelta(loss, params, learning_rate=1.0, rho=0.9, epsilon=1e-3)"),
    "adam": (lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.999), eps=0.0),
             "adam(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0)"),
    "adamax": (lambda p: torch.optim.Adamax(p, lr=0.1, betas=(0.9, 0.999), eps=0.0),
               "adamax(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=0.0)"),
    "amsgrad": (lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.5), eps=0.0,
                                           amsgrad=True),
                "amsgrad(loss, params, learning_rate=0.1, beta1=0.9, beta2=0.5, epsilon=0.0)"),
}


def trajectory(make_optimizer):
    a = torch.tensor(A, dtype=torch.float64)
    y = torch.tensor(Y, dtype=torch.float64)
    w = torch.tensor(W0, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(B0, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([w, b])
    steps = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        loss = 0.5 * torch.sum((a @ w + b - y) ** 2)
        loss.backward()
        optimizer.step()
        steps.append((w.detach().numpy().tolist(), b.detach().numpy().tolist()))
    return steps, optimizer


def amsgrad_max_was_used(optimizer):
    """Whether the running maximum differs from the last second moment."""
    for state in optimizer.state.values():
        if not torch.equal(state["max_exp_avg_sq"], state["exp_avg_sq"]):
            return True
    return False


def main():
    torch.set_default_dtype(torch.float64)
    print(f"# Frozen by tests/tools/freeze_torch_optim.py with torch "
          f"{torch.__version__}")
    print(f"PROBLEM_A = {A!r}")
    print(f"PROBLEM_Y = {Y!r}")
    print(f"W0 = {W0!r}")
    print(f"B0 = {B0!r}")
    print("TORCH_TRAJECTORIES = {")
    for name, (factory, lasagne_call) in CONFIGS.items():
        steps, optimizer = trajectory(factory)
        if name == "amsgrad" and not amsgrad_max_was_used(optimizer):
            raise RuntimeError("amsgrad configuration never uses the maximum")
        print(f"    # lasagne.updates.{lasagne_call}")
        print(f"    {name!r}: [")
        for w, b in steps:
            print(f"        ({w!r}, {b!r}),")
        print("    ],")
    print("}")


if __name__ == "__main__" and __import__("sys").argv[1:] != ["--modern"]:
    main()


# ------------------------------------------------------------------ modern
# `--modern` prints the references of tests/test_updates_modern.py: the
# rules after Lasagne 0.2, the learning-rate schedules and global-norm
# clipping. Eight steps, so that RAdam (with beta2 = 0.9) shows both its
# branches (rho_t > 5 from step 6).

MODERN_STEPS = 8

MODERN_CONFIGS = {
    # AdamW: Lasagne adds epsilon where its adam does; identical for eps=0
    "adamw": (lambda p: torch.optim.AdamW(p, lr=0.1, betas=(0.9, 0.99), eps=0.0,
                                          weight_decay=0.5),
              dict(learning_rate=0.1, beta1=0.9, beta2=0.99, epsilon=0.0,
                   weight_decay=0.5)),
    "nadam": (lambda p: torch.optim.NAdam(p, lr=0.1, betas=(0.8, 0.9), eps=1e-3,
                                          momentum_decay=0.05),
              dict(learning_rate=0.1, beta1=0.8, beta2=0.9, epsilon=1e-3,
                   momentum_decay=0.05)),
    "radam": (lambda p: torch.optim.RAdam(p, lr=0.1, betas=(0.8, 0.9), eps=1e-3),
              dict(learning_rate=0.1, beta1=0.8, beta2=0.9, epsilon=1e-3)),
    "lion": (lambda p: Lion(p, lr=0.05, betas=(0.8, 0.95), weight_decay=0.3),
             dict(learning_rate=0.05, beta1=0.8, beta2=0.95, weight_decay=0.3)),
}


class Lion(torch.optim.Optimizer):
    """Lion as written in Algorithm 2 of Chen et al. (2023); PyTorch has no
    Lion, so the reference is this transcription of the paper."""

    def __init__(self, params, lr, betas, weight_decay):
        super().__init__(params, dict(lr=lr, betas=betas, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                m = self.state[p].setdefault("m", torch.zeros_like(p))
                c = beta1 * m + (1 - beta1) * p.grad
                p.sub_(group["lr"] * (torch.sign(c) + group["weight_decay"] * p))
                m.mul_(beta2).add_((1 - beta2) * p.grad)


SCHEDULE_STEPS = 12
S = torch.optim.lr_scheduler
# name -> (torch scheduler factory on an optimizer with lr=base, base lr,
#          lasagne.schedules call)
SCHEDULES = {
    "linear_warmup": (lambda o: S.LinearLR(o, start_factor=0.2, total_iters=5), 0.5,
                      "linear_warmup(0.5, warmup_steps=5, start_factor=0.2)"),
    "cosine_decay": (lambda o: S.CosineAnnealingLR(o, T_max=SCHEDULE_STEPS, eta_min=0.01),
                     0.5, "cosine_decay(0.5, decay_steps=12, final_learning_rate=0.01)"),
    "step_decay": (lambda o: S.StepLR(o, step_size=3, gamma=0.5), 0.5,
                   "step_decay(0.5, step_size=3, gamma=0.5)"),
    "exponential_decay": (lambda o: S.ExponentialLR(o, gamma=0.8), 0.5,
                          "exponential_decay(0.5, gamma=0.8)"),
    "one_cycle": (lambda o: S.OneCycleLR(o, max_lr=0.5, total_steps=SCHEDULE_STEPS,
                                         cycle_momentum=False), 0.5,
                  "one_cycle(0.5, total_steps=12)"),
    "one_cycle_linear": (lambda o: S.OneCycleLR(
        o, max_lr=0.5, total_steps=SCHEDULE_STEPS, pct_start=0.4, div_factor=5.0,
        final_div_factor=20.0, anneal_strategy="linear", cycle_momentum=False), 0.5,
        "one_cycle(0.5, total_steps=12, pct_start=0.4, div_factor=5, "
        "final_div_factor=20, anneal='linear')"),
}


def schedule_values(factory, base):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base)
    scheduler = factory(optimizer)
    values = []
    for _ in range(SCHEDULE_STEPS):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


def scheduled_adam_trajectory():
    """Adam (eps=0) under a one-cycle schedule, the gradients clipped to a
    global norm of 1 (torch.nn.utils.clip_grad_norm_, whose epsilon is
    1e-6)."""
    a = torch.tensor(A)
    y = torch.tensor(Y)
    w = torch.tensor(W0, requires_grad=True)
    b = torch.tensor(B0, requires_grad=True)
    optimizer = torch.optim.Adam([w, b], lr=0.3, eps=0.0)
    scheduler = S.OneCycleLR(optimizer, max_lr=0.3, total_steps=MODERN_STEPS,
                             cycle_momentum=False)
    steps = []
    for _ in range(MODERN_STEPS):
        optimizer.zero_grad()
        loss = 0.5 * torch.sum((a @ w + b - y) ** 2)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([w, b], 1.0)
        optimizer.step()
        scheduler.step()
        steps.append((w.detach().numpy().tolist(), b.detach().numpy().tolist()))
    return steps


def main_modern():
    global STEPS
    torch.set_default_dtype(torch.float64)
    STEPS = MODERN_STEPS
    print(f"# Frozen by tests/tools/freeze_torch_optim.py --modern with torch "
          f"{torch.__version__}")
    print("TORCH_EQUIVALENT = {")
    for name, (_, kwargs) in MODERN_CONFIGS.items():
        print(f"    {name!r}: {kwargs!r},")
    print("}")
    print("TORCH_TRAJECTORIES = {")
    for name, (factory, _) in MODERN_CONFIGS.items():
        steps, _ = trajectory(factory)
        print(f"    {name!r}: [")
        for w, b in steps:
            print(f"        ({w!r}, {b!r}),")
        print("    ],")
    print("    # adam(clip_grad_norm(loss, params, 1.0, epsilon=1e-6), params,")
    print("    #      learning_rate=one_cycle(0.3, total_steps=8), epsilon=0.0)")
    print("    'clipped_one_cycle_adam': [")
    for w, b in scheduled_adam_trajectory():
        print(f"        ({w!r}, {b!r}),")
    print("    ],")
    print("}")
    print("TORCH_SCHEDULES = {")
    for name, (factory, base, call) in SCHEDULES.items():
        print(f"    # lasagne.schedules.{call}")
        print(f"    {name!r}: {schedule_values(factory, base)!r},")
    print("}")


if __name__ == "__main__" and __import__("sys").argv[1:] == ["--modern"]:
    main_modern()
