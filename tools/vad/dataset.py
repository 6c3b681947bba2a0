#!/usr/bin/env python3
"""Builds the labelled 8 kHz set of the VAD and endpointer quality harness (docs/media.md).

Speech comes from two places, both split by source between train and eval (no clip is in both):
- real recordings of Debian's pocketsphinx-testdata (LibriVox to train; cards, goforward, numbers and
  something to eval);
- espeak-ng sentences in the style of a screened call (half of the sentences in four voices to train, the other
  half in four other voices to eval).

Every clip is resampled to 8 kHz by sox and labelled per 10 ms frame from its clean signal (`label_frames`).
Files are then assembled from clips and silence, mixed with synthesised noise at a given SNR (white or pink line
noise, 50 or 60 Hz mains hum, synthesised music on hold, DTMF digits), and put through a G.711 µ-law round trip
as the last step. Besides these speech files there are non-speech files (each noise alone, for false positives
per minute) and turn files for the endpointer (turns of 1-3 clips with short pauses, separated by longer gaps).

Everything is deterministic: one seed, and each file draws from its own generator seeded by (seed, split, index).

    .venv-quality/bin/python tools/vad/dataset.py [--out .build/vad-quality] [--seed 20261127]

writes OUT/train/*.wav, OUT/eval/*.wav and OUT/manifest.json.
"""

import argparse
import json
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000
FRAME = 80  # 10 ms at 8 kHz
TESTDATA = Path("/usr/share/pocketsphinx/test/data")
ROOT = Path(__file__).resolve().parents[2]

SENTENCES = [
    "Hi, this is Mark from the card services department.",
    "I'm calling about your car's extended warranty.",
    "It's your mother, call me back when you can.",
    "Hello, is this the homeowner? I have a quick question about your roof.",
    "This is the pharmacy. Your prescription is ready for pickup.",
    "Hey, it's Sam. I'm running about ten minutes late.",
    "We noticed suspicious activity on your account. Please press one.",
    "Good afternoon, I'm calling from the dentist to confirm your appointment on Tuesday.",
    "Congratulations, you have been selected for a free cruise to the Bahamas.",
    "Hi, it's the school office. Your daughter has a slight fever.",
    "This is an important message regarding your student loan forgiveness.",
    "Can you tell them I called? My number is five five five, two one three four.",
    "I'm returning your call about the apartment listing.",
    "Your package could not be delivered. We will try again tomorrow.",
    "Hello? Hello? Can you hear me? The line is really bad.",
    "This is Officer Brown from the county sheriff. Please call me back.",
    "We are conducting a short survey about your internet provider.",
    "Hi, it's Dad. Nothing urgent, just wanted to chat.",
    "I'm calling on behalf of the election campaign for a short message.",
    "Your table for four is confirmed for seven thirty tonight.",
    "Sorry, I think I have the wrong number.",
    "This is the bank fraud department. Did you make a purchase of four hundred dollars?",
    "Hey, it's your neighbour. Your dog got out again.",
    "We can lower your interest rate today. Stay on the line.",
    "Hi, I'm a recruiter and I saw your profile. Do you have a few minutes?",
    "The plumber will arrive between nine and eleven in the morning.",
    "This is a reminder that your car is due for its annual service.",
    "Hello, may I speak to the person in charge of your energy bills?",
    "It's me. I left my keys at your place, can I come by later?",
    "Your verification code is eight four two, nine one six.",
    "Hi, this is the clinic. The doctor would like to go over your results.",
    "I am calling about the bicycle you listed for sale. Is it still available?",
]
# espeak-ng voice+variant, speed (words per minute), pitch (0-99).
VOICES = {
    "train": [("en-us+m1", 150, 45), ("en-gb+f2", 165, 60), ("en-gb-scotland+m4", 140, 40), ("en-029+f4", 175, 55)],
    "eval": [("en-us+m3", 160, 50), ("en-us+f2", 155, 65), ("en-gb-x-rp+f3", 170, 58), ("en-gb-x-gbcwmd+m7", 145, 35)],
}
# (file, sox input options) of the real recordings of each split.
REAL = {
    "train": [(p, []) for p in sorted((TESTDATA / "librivox").glob("*.wav"))],
    "eval": [(p, []) for p in sorted((TESTDATA / "cards").glob("*.wav"))]
    + [(TESTDATA / f"{name}.raw", ["-t", "raw", "-r", "16000", "-e", "signed", "-b", "16", "-c", "1"])
       for name in ("goforward", "numbers", "something")],
}
NOISES = ["white", "pink", "hum50", "hum60", "music", "dtmf", "tones"]
SNRS_DB = [20, 10, 5]
SPEECH_FILES_PER_CONDITION = 3
NONSPEECH_FILES_PER_NOISE = 3
TURN_FILES_PER_CONDITION = 4
TURN_CONDITIONS = [(None, None), ("pink", 20)]
# Levels in dBFS (RMS of a full-scale sine = -3 dBFS): active speech level of each clip, and noise levels in the
# non-speech files.
SPEECH_LEVEL_DB = (-24.0, -16.0)
NONSPEECH_LEVEL_DB = {
    "white": (-50.0, -40.0), "pink": (-50.0, -40.0), "hum50": (-45.0, -35.0), "hum60": (-45.0, -35.0),
    "music": (-26.0, -18.0), "dtmf": (-20.0, -12.0), "tones": (-24.0, -14.0),
}
# The line hiss under every non-speech file that is not itself noise (a real line is never digitally silent).
NONSPEECH_HISS_DB = (-60.0, -45.0)

# Labelling rule (see label_frames).
LABEL_PEAK_RANGE_DB = 40.0
LABEL_FLOOR_MARGIN_DB = 12.0
LABEL_MIN_RUN = 5  # frames: shorter runs (clicks) are dropped
LABEL_BRIDGE = 10  # frames: gaps shorter than 100 ms are bridged
LABEL_DILATE = 1  # frames added on each side of every run


@dataclass
class Clip:
    """One clean speech clip at 8 kHz, trimmed to its labelled speech, with its per-frame labels."""

    name: str
    samples: np.ndarray  # float64 in [-1, 1], a whole number of frames long
    labels: np.ndarray  # bool per frame


# ---------------------------------------------------------------------------------------------------- audio I/O


def sox_to_8k(path, input_options=()):
    """Reads any file sox understands as mono float samples at 8 kHz (no dither, no 16-bit step)."""
    raw = subprocess.run(
        ["sox", "-R", "-V1", *input_options, str(path), "-t", "raw", "-e", "floating-point", "-b", "32",
         "-c", "1", "-", "rate", "-h", str(RATE)],
        check=True, capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype="<f4").astype(np.float64)


def write_wav(path, samples):
    """Writes 16-bit PCM mono at 8 kHz with the stdlib wave module."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.astype("<i2").tobytes())


def mulaw_encode(pcm):
    """G.711 µ-law encoding of 16-bit linear samples (bias 0x84, clip 32635, bits inverted)."""
    pcm = np.asarray(pcm, dtype=np.int32)
    sign = np.where(pcm < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(pcm), 32635) + 0x84
    exponent = np.floor(np.log2(magnitude >> 7)).astype(np.int32)  # magnitude >> 7 is in 1...255
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa)) & 0xFF


def mulaw_decode(codes):
    """G.711 µ-law decoding to 16-bit linear samples (±32124 at most)."""
    codes = ~np.asarray(codes, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    magnitude = ((((codes & 0x0F) << 3) + 0x84) << exponent) - 0x84
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


def telephone_pcm(samples):
    """The last step of every file: quantise to 16 bits and pass through a G.711 µ-law round trip."""
    pcm = np.clip(np.round(samples * 32768), -32768, 32767)
    return mulaw_decode(mulaw_encode(pcm))


# ---------------------------------------------------------------------------------------------------- labels


def frame_energy_db(samples):
    """Mean-square energy of each whole 10 ms frame, in dBFS."""
    frames = samples[: len(samples) // FRAME * FRAME].reshape(-1, FRAME)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def runs(mask):
    """[start, end) frame ranges of the True runs of a bool array."""
    padded = np.concatenate([[0], mask.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return edges.reshape(-1, 2)


def label_frames(samples):
    """Ground truth per 10 ms frame from a clean clip.

    A frame is speech when its energy is above both the clip's loudest frame − 40 dB and the clip's noise floor
    (10th percentile of its frame energies) + 12 dB: the second bound matters only for the real recordings, whose
    background noise lies 30-40 dB under their peak (espeak-ng's pauses are digital silence). Runs shorter than
    50 ms are dropped (a click at the end of numbers.raw), gaps shorter than 100 ms bridged, and every run
    dilated by one frame on each side.
    """
    energy = frame_energy_db(samples)
    threshold = max(energy.max() - LABEL_PEAK_RANGE_DB, np.percentile(energy, 10) + LABEL_FLOOR_MARGIN_DB)
    labels = np.zeros(len(energy), dtype=bool)
    kept = [(s, e) for s, e in runs(energy > threshold) if e - s >= LABEL_MIN_RUN]
    for (s, e), following in zip(kept, kept[1:] + [None]):
        end = following[0] if following is not None and following[0] - e < LABEL_BRIDGE else e
        labels[max(0, s - LABEL_DILATE):min(len(labels), end + LABEL_DILATE)] = True
    return labels


def make_clip(name, samples):
    """Labels a clean clip and trims it to its first and last speech frame."""
    labels = label_frames(samples)
    first, last = np.flatnonzero(labels)[[0, -1]]
    return Clip(name, samples[first * FRAME:(last + 1) * FRAME], labels[first:last + 1])


# ---------------------------------------------------------------------------------------------------- sources


def real_clips(split):
    """The pocketsphinx-testdata recordings of a split."""
    return [make_clip(f"real/{path.relative_to(TESTDATA).with_suffix('')}", sox_to_8k(path, options))
            for path, options in REAL[split]]


def espeak_clips(split):
    """espeak-ng sentences of a split: every other sentence, each in every voice of the split."""
    offset = 0 if split == "train" else 1
    clips = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        for voice, speed, pitch in VOICES[split]:
            for index in range(offset, len(SENTENCES), 2):
                subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(wav),
                                SENTENCES[index]], check=True)
                clips.append(make_clip(f"espeak/{voice}/{index:02d}", sox_to_8k(wav)))
    return clips


# ---------------------------------------------------------------------------------------------------- noise


def white_noise(n, rng):
    """Gaussian white noise of unit variance."""
    return rng.standard_normal(n)


def pink_noise(n, rng):
    """1/f noise of unit variance, shaped in the frequency domain."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequencies = np.fft.rfftfreq(n, 1 / RATE)
    spectrum /= np.sqrt(np.maximum(frequencies, 20.0))
    noise = np.fft.irfft(spectrum, n)
    return noise / noise.std()


def mains_hum(n, rng, fundamental):
    """Mains hum: the fundamental and harmonics up to the 9th, odd ones stronger, with a slow level wobble."""
    t = np.arange(n) / RATE
    hum = np.zeros(n)
    for k in range(1, 10):
        amplitude = (1.0 if k % 2 else 0.4) / k**0.7 * rng.uniform(0.6, 1.0)
        hum += amplitude * np.sin(2 * np.pi * fundamental * k * t + rng.uniform(0, 2 * np.pi))
    hum *= 1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t)
    return hum / hum.std()


def adsr(n, attack, decay, sustain, release):
    """An ADSR envelope of n samples (times in seconds; the release ends the note)."""
    a, d, r = (max(1, int(x * RATE)) for x in (attack, decay, release))
    s = max(0, n - a - d - r)
    envelope = np.concatenate([np.linspace(0, 1, a), np.linspace(1, sustain, d), np.full(s, sustain),
                               np.linspace(sustain, 0, r)])
    return envelope[:n] if len(envelope) >= n else np.pad(envelope, (0, n - len(envelope)))


def harmonic_note(midi, n, rng, brightness, vibrato=0.0):
    """A note with harmonics up to 3.6 kHz (amplitudes 1/k^brightness), optional 5 Hz vibrato (fraction)."""
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    t = np.arange(n) / RATE
    phase = 2 * np.pi * f0 * (t - vibrato * np.cos(2 * np.pi * 5 * t) / (2 * np.pi * 5))
    note = np.zeros(n)
    for k in range(1, int(3600 // f0) + 1):
        note += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k**brightness
    return note


def percussion(kind, n, rng):
    """A drum hit: 'kick' (falling sine), 'snare' (noise and tone) or 'hat' (high-passed noise), decaying."""
    t = np.arange(n) / RATE
    if kind == "kick":
        return np.sin(2 * np.pi * (50 * t + 70 * (1 - np.exp(-t * 30)) / 30)) * np.exp(-t * 25)
    noise = rng.standard_normal(n)
    if kind == "snare":
        return (0.7 * noise + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 30)
    return np.diff(noise, prepend=0) * 0.4 * np.exp(-t * 80)


def music_on_hold(n, rng):
    """Synthesised music on hold: a I-V-vi-IV chord progression, a pentatonic melody with vibrato, and drums.

    Chords and melody are harmonic notes with ADSR envelopes; kick on beats 1 and 3, snare on 2 and 4, hi-hat on
    every half beat. Unit variance.
    """
    beat = int(RATE * 60 / rng.uniform(80, 120))
    key = int(rng.integers(55, 67))
    chords = [(0, 4, 7), (7, 11, 14), (9, 12, 16), (5, 9, 12)]
    pentatonic = [0, 2, 4, 7, 9, 12, 14, 16]
    music = np.zeros(n + 8 * beat)
    for bar, start in enumerate(range(0, n, 4 * beat)):
        for interval in chords[bar % 4]:
            music[start:start + 4 * beat] += 0.25 * adsr(4 * beat, 0.03, 0.2, 0.6, 0.3) * harmonic_note(
                key - 12 + interval, 4 * beat, rng, 1.6)
        for step in range(8):
            at, length = start + step * beat // 2, beat // 2 * int(rng.choice([1, 1, 2]))
            if rng.random() < 0.85:
                music[at:at + length] += 0.35 * adsr(length, 0.01, 0.08, 0.5, 0.06) * harmonic_note(
                    key + 12 + int(rng.choice(pentatonic)), length, rng, 1.1, vibrato=0.004)
            hits = ["hat"] + (["kick"] if step in (0, 4) else ["snare"] if step in (2, 6) else [])
            for kind in hits:
                music[at:at + beat] += 0.3 * percussion(kind, beat, rng)
    music = music[:n]
    return music / music.std()


DTMF_ROWS = {"1": 697, "2": 697, "3": 697, "A": 697, "4": 770, "5": 770, "6": 770, "B": 770,
             "7": 852, "8": 852, "9": 852, "C": 852, "*": 941, "0": 941, "#": 941, "D": 941}
DTMF_COLUMNS = {"1": 1209, "4": 1209, "7": 1209, "*": 1209, "2": 1336, "5": 1336, "8": 1336, "0": 1336,
                "3": 1477, "6": 1477, "9": 1477, "#": 1477, "A": 1633, "B": 1633, "C": 1633, "D": 1633}


def dtmf_tone(digit, n, twist_db):
    """One DTMF digit (ITU-T Q.23 frequencies; the high tone `twist_db` over the low one), with 5 ms ramps."""
    t = np.arange(n) / RATE
    tone = np.sin(2 * np.pi * DTMF_ROWS[digit] * t) + 10 ** (twist_db / 20) * np.sin(2 * np.pi * DTMF_COLUMNS[digit] * t)
    ramp = min(40, n // 2)
    tone[:ramp] *= np.linspace(0, 1, ramp)
    tone[n - ramp:] *= np.linspace(1, 0, ramp)
    return tone


def dtmf_sequences(n, rng):
    """Digit sequences (3-10 digits of 50-800 ms: a key may be held), 50-200 ms apart, 1-4 s between sequences,
    unit RMS while a tone sounds."""
    signal, sounding = np.zeros(n), np.zeros(n, dtype=bool)
    at = int(rng.uniform(0.2, 2.0) * RATE)
    while at < n:
        for digit in rng.choice(list("0123456789*#"), size=int(rng.integers(3, 11))):
            length = min(int(rng.uniform(0.05, 0.8) * RATE), n - at)
            signal[at:at + length] = dtmf_tone(str(digit), length, rng.uniform(-4.0, 4.0))
            sounding[at:at + length] = True
            at += length + int(rng.uniform(0.05, 0.2) * RATE)
            if at >= n:
                break
        at += int(rng.uniform(1.0, 4.0) * RATE)
    return signal / np.sqrt(np.mean(signal[sounding] ** 2))


# Call-progress tones (North American precise tone plan and ITU-T E.180 style): (frequencies, on s, off s).
CALL_PROGRESS = {
    "dial": ((350, 440), None, None), "ringback": ((440, 480), 2.0, 4.0), "busy": ((480, 620), 0.5, 0.5),
    "reorder": ((480, 620), 0.25, 0.25), "european ring": ((425,), 1.0, 4.0),
}


def call_progress_tones(n, rng):
    """Dial, ringback, busy, reorder and 425 Hz ringing tones, 2-6 s of each in turn, unit RMS while sounding."""
    signal, sounding = np.zeros(n), np.zeros(n, dtype=bool)
    at = 0
    while at < n:
        frequencies, on, off = CALL_PROGRESS[rng.choice(list(CALL_PROGRESS))]
        length = min(int(rng.uniform(2.0, 6.0) * RATE), n - at)
        t = np.arange(length) / RATE
        tone = sum(np.sin(2 * np.pi * f * t) for f in frequencies)
        gate = np.ones(length, dtype=bool) if on is None else (t % (on + off)) < on
        signal[at:at + length] = tone * gate
        sounding[at:at + length] = gate
        at += length
    return signal / np.sqrt(np.mean(signal[sounding] ** 2))


def noise(kind, n, rng):
    """n samples of a noise kind, with unit power where it sounds."""
    if kind == "white":
        return white_noise(n, rng)
    if kind == "pink":
        return pink_noise(n, rng)
    if kind in ("hum50", "hum60"):
        return mains_hum(n, rng, int(kind[3:]))
    if kind == "music":
        return music_on_hold(n, rng)
    if kind == "tones":
        return call_progress_tones(n, rng)
    return dtmf_sequences(n, rng)


# ---------------------------------------------------------------------------------------------------- files


def seconds_in_frames(rng, low, high):
    """A random duration between low and high seconds, in whole frames."""
    return int(rng.uniform(low, high) * 100)


def at_level(clip, rng):
    """A clip's samples scaled to a random active speech level (RMS over its speech frames)."""
    speech = clip.samples.reshape(-1, FRAME)[clip.labels]
    level = 10 * np.log10(np.mean(speech**2))
    return clip.samples * 10 ** ((rng.uniform(*SPEECH_LEVEL_DB) - level) / 20)


def assemble(pieces, total_frames):
    """Lays (frame offset, clip, samples) pieces into silence; returns samples and per-frame labels."""
    samples, labels = np.zeros(total_frames * FRAME), np.zeros(total_frames, dtype=bool)
    for offset, clip, scaled in pieces:
        samples[offset * FRAME:offset * FRAME + len(scaled)] += scaled
        labels[offset:offset + len(clip.labels)] |= clip.labels
    return samples, labels


def add_noise(speech, labels, kind, snr_db, rng):
    """Mixes noise under speech at an SNR: active speech power over the noise's power where it sounds."""
    interference = noise(kind, len(speech), rng)
    speech_power = np.mean(speech.reshape(-1, FRAME)[labels] ** 2)
    return speech + interference * np.sqrt(speech_power / 10 ** (snr_db / 10))


def finish(samples):
    """Scales a mixture down if it would clip, then applies the telephone round trip."""
    peak = np.max(np.abs(samples))
    return telephone_pcm(samples * (0.95 / peak if peak > 0.95 else 1.0))


def pick_clip(pools, rng):
    """A clip from the real pool (40 %) or the synthesised one."""
    pool = pools["real"] if rng.random() < 0.4 else pools["espeak"]
    return pool[int(rng.integers(len(pool)))]


def speech_file(pools, rng):
    """Clips separated by 0.3-3 s of silence, 0.3-1 s before the first, 0.5-1.5 s after the last, 6-16 s in all."""
    target = seconds_in_frames(rng, 6, 16)
    at = seconds_in_frames(rng, 0.3, 1.0)
    pieces = []
    while not pieces or at < target:
        clip = pick_clip(pools, rng)
        pieces.append((at, clip, at_level(clip, rng)))
        at += len(clip.labels) + seconds_in_frames(rng, 0.3, 3.0)
    total = pieces[-1][0] + len(pieces[-1][1].labels) + seconds_in_frames(rng, 0.5, 1.5)
    samples, labels = assemble(pieces, total)
    return samples, labels, [clip.name for _, clip, _ in pieces], []


def turn_file(pools, rng):
    """3-5 turns of 1-3 clips with 150-600 ms pauses inside a turn, 1.5-3 s between turns, 2.5 s after the last.

    Returns samples, labels, clip names, and the [start, end) frames of each turn (first to last speech frame).
    """
    at = seconds_in_frames(rng, 0.5, 1.0)
    pieces, turns = [], []
    for _ in range(int(rng.integers(3, 6))):
        start = at
        for index in range(int(rng.integers(1, 4))):
            if index:
                at += seconds_in_frames(rng, 0.15, 0.6)
            clip = pick_clip(pools, rng)
            pieces.append((at, clip, at_level(clip, rng)))
            at += len(clip.labels)
        turns.append([start, at])
        at += seconds_in_frames(rng, 1.5, 3.0)
    samples, labels = assemble(pieces, turns[-1][1] + 250)
    return samples, labels, [clip.name for _, clip, _ in pieces], turns


def nonspeech_file(kind, rng):
    """20 s of one noise alone at a level typical of a phone line, over line hiss unless it is noise itself."""
    n = 20 * RATE
    samples = noise(kind, n, rng) * 10 ** (rng.uniform(*NONSPEECH_LEVEL_DB[kind]) / 20)
    if kind not in ("white", "pink"):
        samples += white_noise(n, rng) * 10 ** (rng.uniform(*NONSPEECH_HISS_DB) / 20)
    return samples


def condition_name(kind, noise_kind, snr_db):
    """'clean', 'white 10 dB', 'nonspeech music', 'turns clean', 'turns pink 20 dB'..."""
    name = f"{noise_kind} {snr_db} dB" if snr_db is not None else noise_kind or "clean"
    return name if kind == "speech" else f"{kind} {name}"


def plan(split):
    """The files of a split: (kind, noise, SNR in dB) for each."""
    speech = [("speech", None, None)] + [("speech", k, s) for k in NOISES for s in SNRS_DB]
    files = [c for c in speech for _ in range(SPEECH_FILES_PER_CONDITION)]
    files += [("nonspeech", k, None) for k in NOISES for _ in range(NONSPEECH_FILES_PER_NOISE)]
    files += [("turns", k, s) for k, s in TURN_CONDITIONS for _ in range(TURN_FILES_PER_CONDITION)]
    return files


def build_file(out, split, index, spec, pools, seed):
    """Builds, writes and describes one file of a split."""
    kind, noise_kind, snr_db = spec
    rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
    if kind == "nonspeech":
        samples, clips, turns = nonspeech_file(noise_kind, rng), [], []
        labels = np.zeros(len(samples) // FRAME, dtype=bool)
    else:
        samples, labels, clips, turns = (speech_file if kind == "speech" else turn_file)(pools, rng)
        if noise_kind:
            samples = add_noise(samples, labels, noise_kind, snr_db, rng)
    condition = condition_name(kind, noise_kind, snr_db)
    name = f"{split}/{index:03d}-{condition.replace(' ', '-')}.wav"
    write_wav(out / name, finish(samples))
    return {
        "file": name, "split": split, "kind": kind, "condition": condition, "noise": noise_kind, "snr_db": snr_db,
        "frames": len(labels), "speech": runs(labels).tolist(), "turns": turns, "clips": clips,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / ".build" / "vad-quality")
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()
    entries = []
    for split in ("train", "eval"):
        (args.out / split).mkdir(parents=True, exist_ok=True)
        pools = {"real": real_clips(split), "espeak": espeak_clips(split)}
        for index, spec in enumerate(plan(split)):
            entries.append(build_file(args.out, split, index, spec, pools, args.seed))
        print(f"{split}: {sum(e['split'] == split for e in entries)} files, "
              f"{len(pools['real'])} real and {len(pools['espeak'])} synthesised clips")
    manifest = {
        "rate": RATE, "frame_seconds": FRAME / RATE, "seed": args.seed,
        "labels": "speech: [start, end) frame ranges of 10 ms frames; turns: [start, end) frames of each turn",
        "files": entries,
    }
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"wrote {args.out / 'manifest.json'}")


if __name__ == "__main__":
    main()
