#!/usr/bin/python3
"""bench/torch_ref.py - PyTorch reference for `make bench`.

An independent PyTorch implementation of T-RevSNN as specified in
shared/design/model.md (sections 1, 2, 4), with parameter names as in
shared/design/checkpoint.md, used to report the C trainer's training speed as
a ratio against PyTorch measured in the same run (machine speed drifts, so
only same-run ratios are meaningful).

Modes
  --check-golden PATH   load PATH's /params into a float64 model, run one
                        training-mode forward + backward on /input and compare
                        loss, the T heads' logits, turn-on states, BN running
                        statistics after the step, eval-mode logits and every
                        parameter gradient with the file (relative error
                        <= 1e-9).  Exit status 0 only if everything matches.
  (default)             training benchmark: fmnist preset, float32, plain
                        autograd (every timestep's activations kept), real
                        Fashion-MNIST training images, batch 64, 2 threads.
                        A timed step is forward + loss + backward (+ zeroing
                        the gradients); the optimizer step is NOT included,
                        which matches `sim bench-train` (it times forward +
                        backward only).  --optimizer adamw adds an AdamW step
                        to every timed step.
                        Images/s is the median of --repeats timed bursts of
                        --steps steps after one untimed warm-up burst.  Prints
                        one JSON line.  On a loaded machine, OpenMP's default
                        spin-waiting makes the bursts erratic; running with
                        OMP_WAIT_POLICY=passive in the environment steadies
                        them (the policy in effect is recorded in the JSON).

Run with Debian's interpreter (python3-torch, python3-h5py):
  /usr/bin/python3 bench/torch_ref.py --check-golden ../shared/testdata/golden_t3.h5
  /usr/bin/python3 bench/torch_ref.py --T 4 --steps 8 --repeats 5
"""
import argparse
import gzip
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530

PRESETS = {
    # C_in, input size, channels, k, T, stem kernel, stem stride, classes
    "fmnist": dict(in_channels=1, input_size=32, channels=[16, 32, 64, 128], kernel=3, T=4,
                   stem_kernel=3, stem_stride=1, classes=10, leaky_slope=1.0,
                   label_smoothing=0.1, inter_supv=True),
}
PRESET_PARAMS = {"fmnist": 1349880}


# --------------------------------------------------------------------------- neurons

class SpikeFn(torch.autograd.Function):
    """Theta(v) = 1 if v >= 0.5 else 0; gradient 1 where 0 <= v <= 1 (clipped STE)."""

    @staticmethod
    def forward(ctx, v):
        ctx.save_for_backward(v)
        return (v >= 0.5).to(v.dtype)

    @staticmethod
    def backward(ctx, g):
        (v,) = ctx.saved_tensors
        return g * ((v >= 0) & (v <= 1)).to(g.dtype)


def theta(v):
    return SpikeFn.apply(v)


# --------------------------------------------------------------------------- layers

def trunc_normal(shape, std=0.02):
    w = torch.empty(shape)
    nn.init.trunc_normal_(w, std=std, a=-2 * std, b=2 * std)
    return w


class WSConv(nn.Module):
    """Weight-standardized conv: w_hat_o = g_o (w_o - mean) / sqrt(var + 1e-6) / sqrt(fan_in)."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal((cout, cin, k, k)))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.gain = nn.Parameter(torch.ones(cout))
        self.stride, self.padding = stride, padding

    def std_weight(self):
        w = self.weight
        fan_in = w[0].numel()
        mean = w.mean(dim=(1, 2, 3), keepdim=True)
        var = w.var(dim=(1, 2, 3), keepdim=True, unbiased=False)
        return self.gain.view(-1, 1, 1, 1) * (w - mean) / torch.sqrt(var + 1e-6) / math.sqrt(fan_in)

    def forward(self, x):
        return F.conv2d(x, self.std_weight(), self.bias, self.stride, self.padding)


class DWConv(nn.Module):
    """Depthwise k x k conv, padding k // 2, with bias."""

    def __init__(self, c, k):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal((c, 1, k, k)))
        self.bias = nn.Parameter(torch.zeros(c))
        self.k = k

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, 1, self.k // 2, 1, x.shape[1])


class Conv(nn.Module):
    """Plain conv without bias (Down / Up maps)."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.weight = nn.Parameter(trunc_normal((cout, cin, k, k)))
        self.stride, self.padding = stride, padding

    def forward(self, x):
        return F.conv2d(x, self.weight, None, self.stride, self.padding)


class BN(nn.Module):
    """BatchNorm2d, eps 1e-5, momentum 0.1, running var updated with the unbiased batch var."""

    def __init__(self, c):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training, 0.1, 1e-5)


class ConvBN(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = Conv(cin, cout, k, stride, padding)
        self.bn = BN(cout)

    def forward(self, x):
        return self.bn(self.conv(x))


class SharedPair(nn.Module):
    """B2's PW2s (WSConv 1x1 4C -> C) and DW2s, one per level for all columns."""

    def __init__(self, c, k):
        super().__init__()
        self.pw2 = WSConv(4 * c, c, 1)
        self.dw2 = DWConv(c, k)


class Block(nn.Module):
    """B1 (own PW2/DW2, gamma) or B2 (shared PW2s/DW2s, no gamma)."""

    def __init__(self, c, k, own_tail):
        super().__init__()
        self.dw1 = DWConv(c, k)
        self.pw1 = WSConv(c, 4 * c, 1)
        if own_tail:
            self.pw2 = WSConv(4 * c, c, 1)
            self.dw2 = DWConv(c, k)
            self.gamma = nn.Parameter(torch.ones(c))

    def forward(self, u, shared=None):
        h = theta(self.pw1(self.dw1(theta(u))))
        if shared is None:
            return u + self.gamma.view(1, -1, 1, 1) * self.dw2(self.pw2(h))
        return u + shared.dw2(shared.pw2(h))


class Level(nn.Module):
    def __init__(self, t, l, ch, k):
        super().__init__()
        c = ch[l]
        self.l = l
        if l in (1, 2):
            self.down = ConvBN(ch[l - 1], c, 3, 2, 1)
        elif l == 3:
            self.down = ConvBN(ch[2], c, 1)
        if t >= 1 and l <= 2:
            self.up = ConvBN(ch[l + 1], c, 1)
        self.block1 = Block(c, k, True)
        self.block2 = Block(c, k, False)
        self.alpha = nn.Parameter(torch.full((c,), 0.5))

    def forward(self, below, above_prev, c_prev, shared):
        """below = c_{l-1}^t (x for l = 0); above_prev = c_{l+1}^{t-1} or None; c_prev = c_l^{t-1} or None."""
        u = below if self.l == 0 else self.down(theta(below))
        if above_prev is not None:
            v = self.up(theta(above_prev))
            if self.l <= 1:
                v = F.interpolate(v, scale_factor=2, mode="nearest")
            u = u + v
        u = self.block2(self.block1(u), shared)
        if c_prev is not None:  # c^0 = 0: column 0's alpha term vanishes (its gradient is 0)
            u = u + self.alpha.view(1, -1, 1, 1) * c_prev
        return u


class Column(nn.Module):
    def __init__(self, t, ch, k):
        super().__init__()
        for l in range(4):
            self.add_module(f"level{l}", Level(t, l, ch, k))


class Stem(nn.Module):
    def __init__(self, cin, c0, ks, s1, slope):
        super().__init__()
        self.conv1 = WSConv(cin, c0, ks, s1, ks // 2)
        self.conv2 = WSConv(c0, c0, 3, 2, 1)
        self.slope = slope

    def forward(self, x):
        return self.conv2(F.leaky_relu(self.conv1(x), self.slope))


class Head(nn.Module):
    def __init__(self, c3, K):
        super().__init__()
        self.conv = WSConv(c3, K, 1)

    def forward(self, c3):  # real-valued readout
        return self.conv(c3.mean(dim=(2, 3), keepdim=True)).flatten(1)


class FinalHead(nn.Module):
    def __init__(self, c3, K, slope):
        super().__init__()
        self.conv1 = WSConv(c3, K, 1)
        self.conv2 = WSConv(K, K, 1)
        self.slope = slope

    def forward(self, c3):
        h = theta(c3).mean(dim=(2, 3), keepdim=True)
        return self.conv2(F.leaky_relu(self.conv1(h), self.slope)).flatten(1)


class TRevSNN(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, k, T, K = cfg["channels"], cfg["kernel"], cfg["T"], cfg["classes"]
        self.cfg, self.T = cfg, T
        self.stem = Stem(cfg["in_channels"], ch[0], cfg["stem_kernel"], cfg["stem_stride"],
                         cfg["leaky_slope"])
        self.shared = nn.Module()
        for l in range(4):
            self.shared.add_module(f"level{l}", SharedPair(ch[l], k))
        for t in range(T):
            self.add_module(f"col{t}", Column(t, ch, k))
        if not cfg["inter_supv"]:
            raise ValueError("only intermediate supervision on is implemented")
        for t in range(T - 1):
            self.add_module(f"head{t}", Head(ch[3], K))
        self.add_module(f"head{T - 1}", FinalHead(ch[3], K, cfg["leaky_slope"]))

    @torch.no_grad()
    def clamp_alpha(self):
        for t in range(self.T):
            col = getattr(self, f"col{t}")
            for l in range(4):
                a = getattr(col, f"level{l}").alpha
                sign = torch.where(a < 0, -torch.ones_like(a), torch.ones_like(a))
                a.copy_(sign * a.abs().clamp_min(1e-3))

    def forward(self, x, keep_states=False):
        self.clamp_alpha()
        x = self.stem(x)
        states = {"stem": x} if keep_states else None
        prev = [None] * 4
        logits = []
        for t in range(self.T):
            col = getattr(self, f"col{t}")
            cur = []
            for l in range(4):
                below = x if l == 0 else cur[l - 1]
                above_prev = prev[l + 1] if l <= 2 else None
                c = getattr(col, f"level{l}")(below, above_prev, prev[l],
                                              getattr(self.shared, f"level{l}"))
                cur.append(c)
                if keep_states:
                    states[f"col{t}/level{l}"] = c
            logits.append(getattr(self, f"head{t}")(cur[3]))
            prev = cur
        return (logits, states) if keep_states else logits

    def loss(self, logits, y):
        T, ls = self.T, self.cfg["label_smoothing"]
        ce = [F.cross_entropy(z, y, label_smoothing=ls) for z in logits]
        return sum((i + 1) / T * ce[i] for i in range(T)) + ce[T - 1]

    def named_tensors(self):
        """Parameters and BN buffers under checkpoint.md names."""
        out = {n.replace(".", "/"): p for n, p in self.named_parameters()}
        out.update({n.replace(".", "/"): b for n, b in self.named_buffers()})
        return out


# --------------------------------------------------------------------------- golden check

def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return math.inf
    d = float(np.max(np.abs(a - b))) if a.size else 0.0
    s = float(np.max(np.abs(b))) if b.size else 0.0
    return d / s if s > 0 else d


def check_golden(path, tol=1e-9):
    import h5py
    torch.set_default_dtype(torch.float64)
    f = h5py.File(path, "r")
    cfg = json.loads(f.attrs["config"])
    model = TRevSNN(cfg).double()
    named = model.named_tensors()
    fnames = set()
    f["params"].visititems(lambda n, o: fnames.add(n) if isinstance(o, h5py.Dataset) else None)
    missing, extra = sorted(set(named) - fnames), sorted(fnames - set(named))
    ok = True
    if missing or extra:
        print(f"name mismatch: missing in file {missing[:8]}, not in model {extra[:8]}")
        ok = False
    with torch.no_grad():
        for n, p in named.items():
            if n in fnames:
                src = torch.from_numpy(f["params/" + n][()])
                if src.shape != p.shape:
                    print(f"shape mismatch {n}: file {tuple(src.shape)} model {tuple(p.shape)}")
                    ok = False
                else:
                    p.copy_(src)
    nparams = sum(p.numel() for p in model.parameters())
    x = torch.from_numpy(f["input/images"][()])
    y = torch.from_numpy(f["input/labels"][()]).long()

    model.train()
    logits, states = model(x, keep_states=True)
    loss = model.loss(logits, y)
    loss.backward()

    results = []  # (label, worst rel err, count)

    def group(label, pairs):
        worst = 0.0
        for a, b in pairs:
            worst = max(worst, rel_err(a, b))
        results.append((label, worst, len(pairs)))

    gl = float(f["train/loss"][()])
    group("train loss", [(loss.item(), gl)])
    for t in range(model.T):
        group(f"train logits head{t}", [(logits[t].detach().numpy(), f["train/logits"][t])])
    group("train turn-on states + stem",
          [(v.detach().numpy(), f["train/activations/" + n][()]) for n, v in states.items()])
    gnames = []
    f["train/grads"].visititems(lambda n, o: gnames.append(n) if isinstance(o, h5py.Dataset) else None)
    params = {n.replace(".", "/"): p for n, p in model.named_parameters()}
    gpairs = []
    for n in gnames:
        g = params[n].grad
        g = torch.zeros_like(params[n]) if g is None else g
        gpairs.append((g.numpy(), f["train/grads/" + n][()]))
    if set(gnames) != set(params):
        print(f"gradient names differ: {sorted(set(params) ^ set(gnames))[:8]}")
        ok = False
    group("train grads (all params)", gpairs)
    sample = ["stem/conv1/weight", "shared/level0/pw2/gain", "col0/level1/down/conv/weight",
              f"col{model.T - 1}/level2/alpha", "col1/level0/up/bn/weight",
              f"head{model.T - 1}/conv2/weight"]
    for n in sample:
        if n in params and n in gnames:
            group(f"  grad {n}", [(params[n].grad.numpy(), f["train/grads/" + n][()])])
    bnames = []
    f["train/bn_after_step"].visititems(
        lambda n, o: bnames.append(n) if isinstance(o, h5py.Dataset) else None)
    group("BN running stats after step",
          [(named[n].numpy(), f["train/bn_after_step/" + n][()]) for n in bnames])

    # inference mode with the golden's own running statistics
    with torch.no_grad():
        for n in bnames:
            named[n].copy_(torch.from_numpy(f["params/" + n][()]))
        model.eval()
        elog = model(x)
    group("eval logits", [(np.stack([z.numpy() for z in elog]), f["eval/logits"][()])])

    print(f"golden: {path}  config {cfg}")
    print(f"model params: {nparams}; loss torch {loss.item():.17g} golden {gl:.17g}")
    for label, worst, cnt in results:
        status = "ok" if worst <= tol else "FAIL"
        ok = ok and worst <= tol
        print(f"  {label:<45s} n={cnt:<4d} max rel err {worst:.3e}  {status}")
    print("GOLDEN CHECK " + ("PASSED" if ok else "FAILED") + f" (tolerance {tol:g})")
    return 0 if ok else 1


# --------------------------------------------------------------------------- benchmark

def read_idx(path, header):
    with gzip.open(path, "rb") as fh:
        raw = fh.read()
    return np.frombuffer(raw, dtype=np.uint8, offset=header)


def load_fmnist_train():
    img = read_idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"), 16).reshape(-1, 28, 28)
    lab = read_idx(os.path.join(FMNIST_DIR, "train-labels-idx1-ubyte.gz"), 8).astype(np.int64)
    assert img.shape[0] == lab.shape[0] == 60000
    return img, lab


def make_batch(img, lab, batch_no, batch):
    """Same batches as `sim bench-train`: image i of batch b is (b * batch + i) mod n."""
    idx = (batch_no * batch + np.arange(batch)) % img.shape[0]
    x = (img[idx].astype(np.float32) / 255.0 - FMNIST_MEAN) / FMNIST_STD  # normalize, then pad
    xp = np.zeros((batch, 1, 32, 32), dtype=np.float32)
    xp[:, 0, 2:30, 2:30] = x
    return torch.from_numpy(xp), torch.from_numpy(lab[idx])


def bench(args):
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cfg = dict(PRESETS[args.preset])
    cfg["T"] = args.T
    model = TRevSNN(cfg).float().train()
    nparams = sum(p.numel() for p in model.parameters())
    if args.T == PRESETS[args.preset]["T"] and nparams != PRESET_PARAMS[args.preset]:
        print(f"warning: {nparams} parameters, model.md says {PRESET_PARAMS[args.preset]}",
              file=sys.stderr)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3) if args.optimizer == "adamw" else None
    img, lab = load_fmnist_train()

    batch_no = 0
    rates = []
    for r in range(-1, args.repeats):  # r = -1: warm-up burst
        t0 = time.perf_counter()
        for _ in range(args.steps):
            x, y = make_batch(img, lab, batch_no, args.batch)
            batch_no += 1
            model.zero_grad(set_to_none=True)
            loss = model.loss(model(x), y)
            loss.backward()
            if opt is not None:
                opt.step()
        dt = time.perf_counter() - t0
        if r >= 0:
            rates.append(args.steps * args.batch / dt)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    out = {
        "framework": "pytorch", "torch": torch.__version__, "preset": args.preset,
        "mode": "plain-autograd", "precision": "float32", "T": args.T, "batch": args.batch,
        "threads": args.threads, "steps": args.steps, "repeats": args.repeats,
        "optimizer_step": args.optimizer == "adamw", "params": nparams,
        "images_per_s": round(float(np.median(rates)), 1),
        "images_per_s_runs": [round(v, 1) for v in rates],
        "peak_rss": peak_rss, "loadavg": [round(v, 2) for v in os.getloadavg()],
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default"),
        "final_loss": round(loss.item(), 4),
    }
    print(json.dumps(out))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check-golden", metavar="PATH", help="verify the model against a golden file")
    ap.add_argument("--preset", default="fmnist", choices=sorted(PRESETS))
    ap.add_argument("--T", type=int, default=4, help="timesteps (columns), default 4")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=8, help="training steps per timed burst (default 8)")
    ap.add_argument("--repeats", type=int, default=5, help="timed bursts; median reported (default 5)")
    ap.add_argument("--optimizer", choices=["none", "adamw"], default="none",
                    help="none (default, like sim bench-train): forward+backward only; "
                         "adamw: include an AdamW step in every timed step")
    args = ap.parse_args()
    if args.check_golden:
        return check_golden(args.check_golden)
    if args.T < 1 or args.batch < 1 or args.threads < 1 or args.steps < 1 or args.repeats < 1:
        ap.error("--T, --batch, --threads, --steps and --repeats must be >= 1")
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
