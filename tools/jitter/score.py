#!/usr/bin/env python3
"""Scores a jitter buffer's playout of a trace, independently of its implementation.

  score.py TRACE.csv PLAYOUT.csv [--json]

PLAYOUT.csv: sequence,play_ms for every packet the buffer played (its playout instant). From the trace alone:
- transit = arrival − send; drift is removed with a least-squares line of transit over send time, and the
  baseline arrival of a packet is send + (the line's minimum offset) + slope·send, i.e. the earliest it could
  have arrived on this path;
- late loss = packets that arrived but were not played, over packets that arrived (unique sequence numbers);
- added delay = mean of play − baseline over played packets;
- a fixed 60 ms buffer plays each packet at baseline + 60 ms: its late loss;
- the hindsight-optimal fixed delay D* is the smallest delay at which at most 1 % of packets would be late.
"""
import csv
import json
import sys


def load(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def main():
    trace = load(sys.argv[1])
    played = {int(row["sequence"]): float(row["play_ms"]) for row in load(sys.argv[2])}
    first = {}
    for row in trace:
        sequence = int(row["sequence"])
        if sequence not in first:
            first[sequence] = (float(row["send_ms"]), float(row["arrival_ms"]))
    sends = [send for send, _ in first.values()]
    transits = [arrival - send for send, arrival in first.values()]
    n = len(sends)
    mean_send, mean_transit = sum(sends) / n, sum(transits) / n
    slope = sum((s - mean_send) * (t - mean_transit) for s, t in zip(sends, transits)) / max(1e-9, sum((s - mean_send) ** 2 for s in sends))
    offset = min(t - slope * s for s, t in zip(sends, transits))
    baseline = {seq: send + offset + slope * send for seq, (send, _) in first.items()}
    excess = sorted(arrival - baseline[seq] for seq, (send, arrival) in first.items())
    late = sum(1 for seq in first if seq not in played)
    added = [played[seq] - baseline[seq] for seq in first if seq in played]
    fixed60_late = sum(1 for value in excess if value > 60) / n
    optimal = excess[min(n - 1, int(0.99 * n))]
    result = {
        "packets": n,
        "late_loss": late / n,
        "added_delay_ms": sum(added) / max(1, len(added)),
        "fixed_60ms_late_loss": fixed60_late,
        "optimal_delay_ms": optimal,
        "delay_ratio_to_optimal": (sum(added) / max(1, len(added))) / max(1e-9, optimal),
    }
    if "--json" in sys.argv:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
