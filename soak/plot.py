#!/usr/bin/env python3
"""Draws the soak's figures from the CSV files veer-soak writes: Envoy's RSS over time (one colour
per process: the hot restart starts a new one), with the crash, the restart and the line fitted
over the judged half; below it, requests per second (served by Veer's choice, served without a
decision, failed).

Usage: plot.py DIR  (reads DIR/rss.csv, DIR/requests.csv, DIR/events.csv; writes DIR/rss.png)
"""

import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main(out):
    rss = rows(out / "rss.csv")
    requests = rows(out / "requests.csv")
    events = rows(out / "events.csv")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    pids = []
    for r in rss:
        if r["pid"] not in pids:
            pids.append(r["pid"])
    for i, pid in enumerate(pids):
        mine = [r for r in rss if r["pid"] == pid]
        top.plot([float(r["at_s"]) for r in mine], [int(r["rss_kib"]) / 1024 for r in mine],
                 label=f"Envoy process {i + 1} (pid {pid})", linewidth=1.2)
    judged_from = next((float(e["at_s"]) for e in events if e["event"] == "judged from"), None)
    if judged_from is not None:
        judged = [(float(r["at_s"]), int(r["rss_kib"]) / 1024) for r in rss
                  if float(r["at_s"]) >= judged_from]
        if len(judged) >= 2:
            n = len(judged)
            mt = sum(t for t, _ in judged) / n
            mm = sum(m for _, m in judged) / n
            sxx = sum((t - mt) ** 2 for t, _ in judged)
            slope = sum((t - mt) * (m - mm) for t, m in judged) / sxx if sxx else 0.0
            ends = [judged[0][0], judged[-1][0]]
            top.plot(ends, [mm + slope * (t - mt) for t in ends], "k--", linewidth=1,
                     label=f"fit over the judged half: {slope * 3600:+.2f} MiB/h")
    for e in events:
        for ax in (top, bottom):
            ax.axvline(float(e["at_s"]), color="grey", linestyle=":", linewidth=1)
        top.annotate(e["event"], (float(e["at_s"]), 1), xycoords=("data", "axes fraction"),
                     rotation=90, va="top", ha="right", fontsize=8, color="grey")
    top.set_ylabel("RSS (MiB)")
    top.set_title("make soak: Envoy RSS while veerctl changes the config every second")
    top.legend(loc="lower right", fontsize=8)
    top.grid(alpha=0.3)
    secs = [int(r["second"]) for r in requests]
    routed = [int(r["v1"]) + int(r["v2"]) + int(r["v3"]) for r in requests]
    bottom.plot(secs, routed, label="served by the version Veer chose", linewidth=0.8)
    bottom.plot(secs, [int(r["not_decided"]) for r in requests],
                label="served with no Veer decision", linewidth=0.8)
    bottom.plot(secs, [int(r["failed"]) for r in requests], label="failed", linewidth=0.8,
                color="red")
    bottom.set_xlabel("seconds since the start")
    bottom.set_ylabel("requests / s")
    bottom.legend(loc="center right", fontsize=8)
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "rss.png", dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]))
