#!/usr/bin/python3
"""bench/report.py - turn bench/raw.jsonl (written by bench/run.sh) into
bench/results.json, bench/results.md and a figure of memory and time against T.

usage: report.py RAW.jsonl OUT.json OUT.md OUT.png
"""
import json
import statistics
import sys

PAPER = {"memory": 8.6, "speed": 2.0, "energy": 1.6}
MIB = 1048576.0


def load(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    by = {}
    for r in rows:
        by.setdefault(r["kind"], []).append(r)
    return rows, by


def main():
    raw, out_json, out_md, out_png = sys.argv[1:5]
    rows, by = load(raw)
    mach = by["machine"][0]
    # rounds of interleaved bursts: per (variant, T) the median images/s over
    # rounds; speed ratios are medians of the ratios within each round
    rounds = {}
    for r in by.get("train", []):
        rounds.setdefault((r["variant"], r["T"]), {})[r.get("round", 1)] = r
    for r in by.get("torch", []):
        rounds.setdefault(("torch", r["T"]), {})[r.get("round", 1)] = r

    def med(key):
        rs = rounds.get(key)
        if not rs:
            return None
        row = dict(next(iter(rs.values())))
        row["images_per_s_rounds"] = [rs[k]["images_per_s"] for k in sorted(rs)]
        row["images_per_s"] = statistics.median(row["images_per_s_rounds"])
        row["peak_rss"] = max(x.get("peak_rss", 0) for x in rs.values())
        return row

    def paired(a, b):
        ra, rb = rounds.get(a, {}), rounds.get(b, {})
        common = sorted(set(ra) & set(rb))
        if not common:
            return None
        return statistics.median(ra[k]["images_per_s"] / rb[k]["images_per_s"] for k in common)

    train = {k: med(k) for k in rounds if k[0] != "torch"}
    torch = {k[1]: med(k) for k in rounds if k[0] == "torch"}
    short = {(r["model"], r["T"]): r for r in by.get("short_train", [])}
    energy = {(r["model_name"], r["T"]): r for r in by.get("energy", [])}
    Ts = sorted({T for (_, T) in train})
    names = [("trevsnn-rev", "T-RevSNN rev"), ("trevsnn-plain", "T-RevSNN plain"),
             ("lif-bptt", "LIF baseline (BPTT)")]
    model_of = {"trevsnn-rev": "trevsnn", "trevsnn-plain": "trevsnn", "lif-bptt": "lif"}

    md = []
    md.append("# Benchmarks: T-RevSNN against a conventional multi-timestep SNN\n")
    md.append("`make bench` on %s, %s (%d cores). %s\n" %
              (mach["date"], mach["cpu"], mach["cores"], mach["version"]))
    nr = max(len(v) for v in rounds.values()) if rounds else 0
    md.append("fmnist preset, batch 64, 2 threads, float. The machine is shared and its speed "
              "drifts, so the training variants and PyTorch run interleaved in %d rounds of one "
              "timed burst each; images/s is the median over rounds and every speed ratio the "
              "median of the ratios within a round. " % nr + "The LIF baseline "
              "(`--model lif`, topology/lifsnn.h) has the same stem, widths, levels and blocks, "
              "one set of weights for all timesteps, LIF neurons (tau 2, threshold 1, hard "
              "reset) at every spike site and backpropagation through time.\n")

    md.append("## Training: images/s, activation memory, peak RSS\n")
    md.append("| T | model | images/s (median of rounds) | activation MiB | peak RSS MiB | "
              "accuracy after %s steps | engine ACs/image | engine MACs/image | energy uJ/image |" %
              (short[next(iter(short))]["steps"] if short else "?"))
    md.append("|---|---|---|---|---|---|---|---|---|")
    for T in Ts:
        for key, label in names:
            r = train.get((key, T))
            if not r:
                continue
            m = model_of[key]
            s, e = short.get((m, T)), energy.get((m, T))
            acc = "%.2f %%" % (100 * s["test_acc"][-1]) if s else "-"
            if key == "trevsnn-plain" and s:
                acc += " (same gradients as rev)"
            md.append("| %d | %s | %.1f | %.1f | %.1f | %s | %s | %s | %s |" % (
                T, label, r["images_per_s"], r["activation_bytes"] / MIB, r["peak_rss"] / MIB, acc,
                "%.2f M" % (e["acs_per_image"] / 1e6) if e else "-",
                "%.2f M" % (e["macs_per_image"] / 1e6) if e else "-",
                "%.2f" % e["energy_uj_per_image"] if e else "-"))
    md.append("")

    md.append("## Ratios against the LIF baseline (paper: memory %.1fx, training speed %.1fx, "
              "energy %.1fx)\n" % (PAPER["memory"], PAPER["speed"], PAPER["energy"]))
    md.append("| T | activation memory lif / rev | peak RSS lif / rev | training speed rev / lif | "
              "plain / lif | energy lif / T-RevSNN | accuracy T-RevSNN - lif (points) |")
    md.append("|---|---|---|---|---|---|---|")
    ratios = []
    for T in Ts:
        rv, pl, lf = train.get(("trevsnn-rev", T)), train.get(("trevsnn-plain", T)), train.get(("lif-bptt", T))
        if not (rv and lf):
            continue
        et, el = energy.get(("trevsnn", T)), energy.get(("lif", T))
        st, sl = short.get(("trevsnn", T)), short.get(("lif", T))
        r = {"T": T,
             "memory": lf["activation_bytes"] / rv["activation_bytes"],
             "rss": lf["peak_rss"] / rv["peak_rss"],
             "speed": paired(("trevsnn-rev", T), ("lif-bptt", T)),
             "speed_plain": paired(("trevsnn-plain", T), ("lif-bptt", T)),
             "energy": el["energy_uj_per_image"] / et["energy_uj_per_image"] if et and el else None,
             "acc_diff": 100 * (st["test_acc"][-1] - sl["test_acc"][-1]) if st and sl else None}
        ratios.append(r)
        f = lambda v, fmt: fmt % v if v is not None else "-"
        md.append("| %d | %.2fx | %.2fx | %.2fx | %s | %s | %s |" % (
            T, r["memory"], r["rss"], r["speed"], f(r["speed_plain"], "%.2fx"),
            f(r["energy"], "%.2fx"), f(r["acc_diff"], "%+.2f")))
    md.append("")

    if torch:
        md.append("## T-RevSNN against PyTorch running the same model (plain autograd, same batches, same run)\n")
        md.append("| T | rev images/s | plain images/s | PyTorch images/s | rev / PyTorch | plain / PyTorch |")
        md.append("|---|---|---|---|---|---|")
        for T in Ts:
            rv, pl, pt = train.get(("trevsnn-rev", T)), train.get(("trevsnn-plain", T)), torch.get(T)
            if rv and pt:
                md.append("| %d | %.1f | %.1f | %.1f | %.2fx | %.2fx |" % (
                    T, rv["images_per_s"], pl["images_per_s"], pt["images_per_s"],
                    paired(("trevsnn-rev", T), ("torch", T)),
                    paired(("trevsnn-plain", T), ("torch", T))))
        md.append("")

    for r in by.get("engine", []):
        ms = r["ms_per_image"]["median"]
        md.append("## Event-driven engine against the dense inference path (%s, 1 thread, same run)\n"
                  % r["checkpoint"])
        md.append("| | event-driven | dense |")
        md.append("|---|---|---|")
        md.append("| ms per image, batch 1 (median) | %.3f | %.3f |" % (ms, r["dense_ms_per_image_batch1"]))
        md.append("| images/s, batch 1 | %.0f | %.0f |" % (1e3 / ms, 1e3 / r["dense_ms_per_image_batch1"]))
        md.append("| images/s, dense at batch 64 | | %.0f |" % r["dense_images_per_s_batch64"])
        md.append("| accuracy on %d images | %.2f %% | same class on %d |" % (
            r["images"], 100 * r["accuracy"], r["dense_same_class"]))
        md.append("| turn-off spikes | %d | %d |" % (r["engine_turnoff_spikes"], r["dense_turnoff_spikes"]))
        md.append("| accumulates per second | %.2f G | |" % (r["acs_per_image"] * 1e3 / ms / 1e9))
        md.append("| energy per image | %.2f uJ counted | %.2f uJ literature estimate |" % (
            r["energy_uj_per_image"], r["energy_lit_uj_per_image"]))
        md.append("")
    for r in by.get("serve", []):
        md.append("## Server under load (`sim bench-serve`, loopback, 2 workers)\n")
        md.append("%d requests over 16 connections: %.1f requests/s, latency p50 %.1f ms, p99 %.1f ms, "
                  "%d errors.\n" % (r["requests"], r["requests_per_s"], r["latency_ms"]["p50"],
                                     r["latency_ms"]["p99"], r["errors"]))

    open(out_md, "w").write("\n".join(md) + "\n")
    json.dump({"machine": mach, "ratios": ratios, "paper": PAPER,
               "train": [dict(v, variant=k[0]) for k, v in sorted(train.items())],
               "pytorch": [torch[T] for T in sorted(torch)], "rows": rows},
              open(out_json, "w"), indent=1)
    print("\n".join(md))

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no figure (apt-get install python3-matplotlib)")
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.6))
    style = {"trevsnn-rev": ("C0", "o"), "trevsnn-plain": ("C1", "s"), "lif-bptt": ("C3", "^")}
    for key, label in names:
        pts = [(T, train[(key, T)]) for T in Ts if (key, T) in train]
        if not pts:
            continue
        c, mk = style[key]
        ax[0].plot([T for T, _ in pts], [r["activation_bytes"] / MIB for _, r in pts], color=c,
                   marker=mk, label=label)
        ax[1].plot([T for T, _ in pts], [1e3 / r["images_per_s"] for _, r in pts], color=c,
                   marker=mk, label=label)
    ax[0].set_title("training activation memory (batch 64)")
    ax[0].set_ylabel("MiB")
    ax[1].set_title("training time per image (2 threads)")
    ax[1].set_ylabel("ms per image")
    for a in ax:
        a.set_xlabel("timesteps T")
        a.set_xscale("log", base=2)
        a.set_xticks(Ts)
        a.set_xticklabels([str(T) for T in Ts])
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("T-RevSNN vs LIF baseline, fmnist preset (%s)" % mach["date"][:10], fontsize=10)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)


if __name__ == "__main__":
    main()
