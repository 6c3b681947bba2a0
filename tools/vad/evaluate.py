#!/usr/bin/env python3
"""Compares our VAD and endpointer with WebRTC VAD and Silero VAD on the set that dataset.py builds.

Detectors, each on the 8 kHz µ-law-decoded files, scored per 10 ms frame against the labels:
- ours: `answer-ninja vad FILE --json --frames`, its smoothed `frame_decisions` ("ours") and its raw
  `frame_probabilities` at 0.5 ("ours raw"); ROC-AUC from the probabilities for both;
- WebRTC VAD (webrtcvad-wheels), modes 0-3, on 10 ms frames; its ROC-AUC is that of its binary decision;
- Silero VAD, its bundled ONNX model run as its own OnnxWrapper does (256-sample chunks at 8 kHz with 32 samples
  of context carried over, and the recurrent state), threshold 0.5; each 32 ms chunk's probability is given to
  the 10 ms frames whose centre it holds.

Metrics (docs/media.md, "VAD and endpointer quality harness"): frame F1, precision, recall and ROC-AUC on the
files with speech, overall and per condition; median onset and offset latency per labelled speech run; false
positives per minute (detected speech runs) on the non-speech files; and for our endpointer on the turn files:
false cut-offs, merged turns and the response latency (decided_at − end of the turn).

    .venv-quality/bin/python tools/vad/evaluate.py [--split eval] [--data .build/vad-quality]
        [--binary .build/debug/answer-ninja] [--json OUT.json] [--workers 2]
"""

import argparse
import datetime
import importlib.util
import json
import multiprocessing
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

RATE = 8000
FRAME = 80
ROOT = Path(__file__).resolve().parents[2]
WEBRTC_MODES = (0, 1, 2, 3)
DETECTORS = ["ours", "ours raw"] + [f"webrtc {m}" for m in WEBRTC_MODES] + ["silero"]
CUTOFF_TOLERANCE_S = 0.1

# ---------------------------------------------------------------------------------------------------- detectors


def read_pcm(path):
    """16-bit mono samples of a WAV file."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2 and wav.getframerate() == RATE, path
        return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")


class Silero:
    """Silero VAD's bundled ONNX model run in numpy the way silero_vad.utils_vad.OnnxWrapper runs it at 8 kHz."""

    CHUNK = 256
    CONTEXT = 32

    def __init__(self):
        import onnxruntime

        package = importlib.util.find_spec("silero_vad").submodule_search_locations[0]
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(Path(package, "data", "silero_vad.onnx")), sess_options=options, providers=["CPUExecutionProvider"])

    def chunk_probabilities(self, pcm):
        """Speech probability of each 256-sample chunk (the last one zero-padded), state reset per file."""
        x = np.asarray(pcm, dtype=np.float32) / 32768
        x = np.pad(x, (0, -len(x) % self.CHUNK))
        state = np.zeros((2, 1, 128), dtype=np.float32)
        context = np.zeros((1, self.CONTEXT), dtype=np.float32)
        sr = np.array(RATE, dtype=np.int64)
        probabilities = []
        for start in range(0, len(x), self.CHUNK):
            window = np.concatenate([context, x[None, start:start + self.CHUNK]], axis=1)
            out, state = self.session.run(None, {"input": window, "state": state, "sr": sr})
            context = window[:, -self.CONTEXT:]
            probabilities.append(float(out[0, 0]))
        return np.array(probabilities)

    def frame_probabilities(self, pcm, frames):
        """Each 10 ms frame gets the probability of the chunk that holds its centre."""
        chunks = self.chunk_probabilities(pcm)
        return chunks[(np.arange(frames) * FRAME + FRAME // 2) // self.CHUNK]


def webrtc_decisions(pcm, frames):
    """WebRTC VAD's decision for every 10 ms frame, per mode (a new detector per file: it adapts to its input)."""
    import webrtcvad

    vads = {mode: webrtcvad.Vad(mode) for mode in WEBRTC_MODES}
    chunks = [pcm[i * FRAME:(i + 1) * FRAME].astype("<i2").tobytes() for i in range(frames)]
    return {mode: np.array([vad.is_speech(chunk, RATE) for chunk in chunks], dtype=float) for mode, vad in vads.items()}


def run_ours(binary, path):
    """Our binary's frames and endpointed segments for one file."""
    result = subprocess.run([str(binary), "vad", str(path), "--json", "--frames"], check=True, capture_output=True,
                            text=True)
    return json.loads(result.stdout)


_worker = {}


def init_worker(binary):
    """Loads Silero's model once per worker process."""
    _worker["binary"] = binary
    _worker["silero"] = Silero()


def detect(job):
    """Runs every detector on one file: {detector: (scores, decisions)} per frame, and our segments."""
    path, frames = job
    pcm = read_pcm(path)
    ours = run_ours(_worker["binary"], path)
    probabilities = np.zeros(frames)
    n = min(frames, len(ours["frame_probabilities"]))
    probabilities[:n] = ours["frame_probabilities"][:n]
    smoothed = np.zeros(frames)
    smoothed[:n] = ours["frame_decisions"][:n]
    silero = _worker["silero"].frame_probabilities(pcm, frames)
    outputs = {"ours": (probabilities, smoothed), "ours raw": (probabilities, (probabilities >= 0.5).astype(float)),
               "silero": (silero, (silero >= 0.5).astype(float))}
    for mode, decisions in webrtc_decisions(pcm, frames).items():
        outputs[f"webrtc {mode}"] = (decisions, decisions)
    return outputs, ours["segments"]


# ---------------------------------------------------------------------------------------------------- metrics


def runs(mask):
    """[start, end) index ranges of the True runs of a bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], np.asarray(mask, dtype=np.int8), [0]])))
    return edges.reshape(-1, 2)


def labels_of(entry):
    """The per-frame ground truth of a manifest entry."""
    labels = np.zeros(entry["frames"], dtype=bool)
    for start, end in entry["speech"]:
        labels[start:end] = True
    return labels


def roc_auc(scores, labels):
    """Area under the ROC curve (Mann-Whitney U with tied scores given their average rank)."""
    positives, negatives = labels.sum(), (~labels).sum()
    if not positives or not negatives:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2
    ranks = average_rank[inverse]
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def latencies(decisions, labels):
    """Onset and offset latency (ms) of each labelled speech run, and how many runs were missed.

    Onset: first detected frame within the run, from the run's start. Offset: end of the last detected frame
    before the next run starts (or the file ends), from the run's end; negative when detection stops early.
    """
    speech = runs(labels)
    onsets, offsets, missed = [], [], 0
    for index, (start, end) in enumerate(speech):
        following = speech[index + 1][0] if index + 1 < len(speech) else len(labels)
        within = np.flatnonzero(decisions[start:end])
        if not len(within):
            missed += 1
            continue
        onsets.append(10.0 * within[0])
        offsets.append(10.0 * (start + np.flatnonzero(decisions[start:following])[-1] + 1 - end))
    return onsets, offsets, missed


def median(values):
    """Median, or None for no values."""
    return float(np.median(values)) if len(values) else None


def frame_metrics(files):
    """F1, precision, recall, ROC-AUC, latencies over (scores, decisions, labels) of several files."""
    scores = np.concatenate([s for s, _, _ in files])
    decisions = np.concatenate([d for _, d, _ in files]) > 0.5
    labels = np.concatenate([l for _, _, l in files])
    tp, fp, fn = (decisions & labels).sum(), (decisions & ~labels).sum(), (~decisions & labels).sum()
    onsets, offsets, missed, segments = [], [], 0, 0
    for _, d, l in files:
        on, off, miss = latencies(d > 0.5, l)
        onsets += on
        offsets += off
        missed += miss
        segments += len(runs(l))
    return {
        "f1": float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None,
        "precision": float(tp / (tp + fp)) if tp + fp else None,
        "recall": float(tp / (tp + fn)) if tp + fn else None,
        "roc_auc": roc_auc(scores, labels),
        "onset_ms": median(onsets),
        "offset_ms": median(offsets),
        "missed_segments": missed,
        "segments": segments,
        "seconds": len(labels) / 100,
    }


def nonspeech_metrics(files):
    """Detected speech runs per minute, and the fraction of frames flagged as speech, over non-speech files."""
    frames = sum(len(d) for d in files)
    return {"fp_per_minute": sum(len(runs(d > 0.5)) for d in files) / (frames / 6000),
            "flagged": sum(int((d > 0.5).sum()) for d in files) / frames}


def endpointer_metrics(turn_files, nonspeech_files):
    """False cut-offs, merged turns and response latency of our endpointer's segments on the turn files.

    turn_files: (turns in seconds, segments) per file. A false cut-off is a segment decided inside a turn more
    than 100 ms before the turn's last speech frame ends; a merged turn is a segment overlapping two turns; the
    response latency of a turn is decided_at − end of the turn for the first segment overlapping the turn that is
    decided after it (a turn with none is missed).
    """
    cutoffs, cut_turns, merged, missed, turn_count, latency = 0, 0, 0, 0, 0, []
    for turns, segments in turn_files:
        turn_count += len(turns)
        for start, end in turns:
            cuts = sum(start <= s["decided_at"] < end - CUTOFF_TOLERANCE_S for s in segments)
            cutoffs += cuts
            cut_turns += cuts > 0
            closing = [s["decided_at"] for s in segments
                       if s["decided_at"] >= end - CUTOFF_TOLERANCE_S and s["start"] < end and s["end"] > start]
            if closing:
                latency.append(1000 * (min(closing) - end))
            else:
                missed += 1
        for s in segments:
            merged += max(0, sum(s["start"] < end and s["end"] > start for start, end in turns) - 1)
    minutes = sum(duration for duration, _ in nonspeech_files) / 60
    return {
        "turns": turn_count,
        "false_cutoffs": cutoffs,
        "false_cutoffs_per_turn": cutoffs / turn_count,
        "turns_cut": cut_turns,
        "merged_turns": merged,
        "missed_turns": missed,
        "latency_median_ms": median(latency),
        "latency_p90_ms": float(np.percentile(latency, 90)) if latency else None,
        "utterances_per_minute_nonspeech": sum(n for _, n in nonspeech_files) / minutes,
    }


# ---------------------------------------------------------------------------------------------------- report


def evaluate(entries, outputs):
    """All metrics: per detector overall, per condition and per non-speech noise; and the endpointer's."""
    speech = [i for i, e in enumerate(entries) if e["kind"] != "nonspeech"]
    nonspeech = [i for i, e in enumerate(entries) if e["kind"] == "nonspeech"]
    conditions = list(dict.fromkeys(entries[i]["condition"] for i in speech))
    noises = list(dict.fromkeys(entries[i]["noise"] for i in nonspeech))
    labels = [labels_of(e) for e in entries]
    results = {}
    for name in DETECTORS:
        scored = [(outputs[i][0][name][0], outputs[i][0][name][1], labels[i]) for i in range(len(entries))]
        decisions = [d for _, d, _ in scored]
        overall = frame_metrics([scored[i] for i in speech])
        overall.update(nonspeech_metrics([decisions[i] for i in nonspeech]))
        results[name] = {
            "overall": overall,
            "conditions": {c: frame_metrics([scored[i] for i in speech if entries[i]["condition"] == c])
                           for c in conditions},
            "nonspeech": {n: nonspeech_metrics([decisions[i] for i in nonspeech if entries[i]["noise"] == n])
                          for n in noises},
        }
    turn_files = [([(s / 100, e / 100) for s, e in entries[i]["turns"]], outputs[i][1])
                  for i, e in enumerate(entries) if e["kind"] == "turns"]
    endpointer = endpointer_metrics(turn_files, [(entries[i]["frames"] / 100, len(outputs[i][1])) for i in nonspeech])
    return {"detectors": results, "endpointer": endpointer}


def cell(value, digits=3):
    """A table cell: a number with some digits, or '–'."""
    return "–" if value is None else f"{value:.{digits}f}"


def table(header, rows):
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def report(results):
    """The markdown tables and the target line."""
    detectors = results["detectors"]
    overall = table(
        ["detector", "F1", "precision", "recall", "ROC-AUC", "onset ms", "offset ms", "missed runs", "FP/min",
         "non-speech flagged"],
        [[name, cell(o["f1"]), cell(o["precision"]), cell(o["recall"]), cell(o["roc_auc"]), cell(o["onset_ms"], 0),
          cell(o["offset_ms"], 0), f"{o['missed_segments']}/{o['segments']}", cell(o["fp_per_minute"], 1),
          f"{100 * o['flagged']:.1f} %"]
         for name, o in ((n, d["overall"]) for n, d in detectors.items())])
    conditions = list(next(iter(detectors.values()))["conditions"])
    per_condition = table(["F1 by condition"] + DETECTORS,
                          [[c] + [cell(detectors[n]["conditions"][c]["f1"]) for n in DETECTORS] for c in conditions])
    noises = list(next(iter(detectors.values()))["nonspeech"])
    per_noise = table(["FP/min (flagged) on non-speech"] + DETECTORS,
                      [[n] + [f"{m['fp_per_minute']:.1f} ({100 * m['flagged']:.0f} %)"
                              for m in (detectors[d]["nonspeech"][n] for d in DETECTORS)] for n in noises])
    e = results["endpointer"]
    endpointer = table(
        ["turns", "false cut-offs (per turn)", "turns cut", "merged turns", "missed turns", "latency median ms",
         "latency p90 ms", "utterances/min on non-speech"],
        [[str(e["turns"]), f"{e['false_cutoffs']} ({e['false_cutoffs_per_turn']:.2f})", str(e["turns_cut"]),
          str(e["merged_turns"]), str(e["missed_turns"]), cell(e["latency_median_ms"], 0),
          cell(e["latency_p90_ms"], 0), cell(e["utterances_per_minute_nonspeech"], 1)]])
    best_webrtc = max(detectors[f"webrtc {m}"]["overall"]["f1"] for m in WEBRTC_MODES)
    margin = detectors["ours"]["overall"]["f1"] - best_webrtc
    target = f"target: our F1 − best WebRTC mode F1 = {margin:+.3f} (target ≥ 0.05)"
    return "\n\n".join([overall, per_condition, per_noise, "Endpointer (ours, turn files):\n\n" + endpointer, target])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="eval", choices=["train", "eval"])
    parser.add_argument("--data", type=Path, default=ROOT / ".build" / "vad-quality")
    parser.add_argument("--binary", type=Path, default=ROOT / ".build" / "debug" / "answer-ninja")
    parser.add_argument("--json", type=Path, help="where to write the results (default DATA/results-SPLIT.json)")
    parser.add_argument("--workers", type=int, default=2, choices=[1, 2])
    args = parser.parse_args()
    if not args.binary.is_file():
        parser.error(f"{args.binary} not found: build answer-ninja first")
    manifest = json.loads((args.data / "manifest.json").read_text())
    entries = [e for e in manifest["files"] if e["split"] == args.split]
    jobs = [(args.data / e["file"], e["frames"]) for e in entries]
    modified = datetime.datetime.fromtimestamp(args.binary.stat().st_mtime).isoformat(timespec="seconds")
    with tempfile.TemporaryDirectory() as tmp:
        # A copy, so that a rebuild during the run neither mixes two builds nor finds the file busy.
        binary = shutil.copy2(args.binary, Path(tmp) / "answer-ninja")
        with multiprocessing.Pool(args.workers, initializer=init_worker, initargs=(binary,)) as pool:
            outputs = pool.map(detect, jobs, chunksize=1)
    results = {"split": args.split, "files": len(entries), "binary": str(args.binary), "binary_modified": modified,
               **evaluate(entries, outputs)}
    out = args.json or args.data / f"results-{args.split}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"{args.split}: {len(entries)} files, {args.binary} of {modified}\n\n{report(results)}\n\nwrote {out}")


if __name__ == "__main__":
    main()
