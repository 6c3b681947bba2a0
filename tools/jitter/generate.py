#!/usr/bin/env python3
"""Generates jitter-buffer traces (one CSV per scenario): sequence,timestamp,send_ms,arrival_ms,size.
Rows are in arrival order; lost packets are absent; duplicates appear twice. 20 ms G.711 packets (160 timestamp
units), talkspurts of 2-5 s separated by 0.5-2 s of silence (nothing sent, timestamps jump), burst loss (a
two-state Gilbert model), jitter up to the scenario's maximum with occasional spikes, reordering from the jitter
itself, 1 % duplicates, and clock drift of the sender.

  generate.py OUT_DIR [--seed N]     writes one trace per scenario (deterministic: seeded; N, default 0, is
                                      added to each scenario's seed for a fresh set of the same scenarios)"""
import csv
import os
import random
import sys

SCENARIOS = [
    # name, max jitter ms, drift, seed
    ("calm", 20, 0.0, 1),
    ("wifi", 60, 0.001, 2),
    ("mobile", 100, -0.001, 3),
    ("spiky", 40, 0.0005, 4),
]


def trace(max_jitter, drift, seed, seconds=60.0):
    rng = random.Random(seed)
    rows = []
    sequence, timestamp, clock = 1000, 160_000, 0.0
    lossy = False
    while clock < seconds * 1000:
        talk = rng.uniform(2000, 5000)
        end = clock + talk
        while clock < end:
            lossy = rng.random() < (0.3 if lossy else 0.02)  # Gilbert: bursts of about 3 packets, 2 % entry
            if not lossy:
                jitter = rng.uniform(0, max_jitter) if rng.random() > 0.02 else rng.uniform(max_jitter, 2 * max_jitter)
                arrival = clock * (1 + drift) + 40 + jitter
                rows.append((sequence, timestamp, clock, arrival, 160))
                if rng.random() < 0.01:
                    rows.append((sequence, timestamp, clock, arrival + rng.uniform(1, 30), 160))
            sequence = (sequence + 1) & 0xFFFF
            timestamp = (timestamp + 160) & 0xFFFFFFFF
            clock += 20
        silence = rng.uniform(500, 2000)
        clock += silence
        timestamp = (timestamp + int(silence * 8)) & 0xFFFFFFFF
    rows.sort(key=lambda row: row[3])
    return rows


def main():
    out = sys.argv[1]
    offset = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else 0
    os.makedirs(out, exist_ok=True)
    for name, max_jitter, drift, seed in SCENARIOS:
        with open(os.path.join(out, f"{name}.csv"), "w", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["sequence", "timestamp", "send_ms", "arrival_ms", "size"])
            for row in trace(max_jitter, drift, seed + offset * 100):
                writer.writerow([row[0], row[1], f"{row[2]:.3f}", f"{row[3]:.3f}", row[4]])
    print(f"{len(SCENARIOS)} traces in {out}")


if __name__ == "__main__":
    main()
