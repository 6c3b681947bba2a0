"""Shared helpers of the 8 kHz speech-recognition experiment scripts (tools/stt/*).

Everything here is deterministic: fixed voices, speeds, seeds and sorted outputs, so that running a script twice
gives byte-identical data files.
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
VENV = os.path.join(HERE, ".venv")

STOCK_MODEL = "/usr/share/pocketsphinx/model/en-us/en-us"
STOCK_LM = "/usr/share/pocketsphinx/model/en-us/en-us.lm.bin"
STOCK_DICT = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"
TESTDATA = "/usr/share/pocketsphinx/test/data"
ALSA_SOUNDS = "/usr/share/sounds/alsa"

DATA_SPEECH = os.path.join(ROOT, "Sources", "Speech", "Resources")
TELEPHONE_MODEL = os.path.join(DATA_SPEECH, "en-us-telephone")
CORPUS = os.path.join(ROOT, "Fixtures", "intents", "corpus.txt")
WORK = os.environ.get("STT_WORK", "/tmp/stt-work")

# The files of the stock acoustic model that a telephone model directory links to unchanged.
MODEL_FILES = ["mdef", "means", "variances", "sendump", "transition_matrices", "noisedict"]

# espeak-ng voices used for synthetic speech, in a fixed rotation (adaptation data and ASR-noise data).
VOICES = ["en-us", "en-us+m1", "en-us+f2", "en-us+m3", "en-us+f1", "en-gb+m2", "en-us+f3", "en-us+m4"]
SPEEDS = [140, 165, 150, 180, 155, 170]
PITCHES = [40, 55, 35, 60, 50, 45]


def reexec_in_venv():
    """Run the calling script with tools/stt/.venv's Python (made by tools/stt/setup)."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        sys.exit("tools/stt/.venv is missing: run tools/stt/setup")
    os.execv(python, [python] + sys.argv)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def run(cmd, **kw):
    """Run a command; on failure show its stderr and stop."""
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        sys.exit(f"command failed ({res.returncode}): {' '.join(cmd)}")
    return res


# ---------------------------------------------------------------------------------------------------- data

def human_set():
    """[(id, source path, reference)] sorted by id."""
    out = []
    with open(os.path.join(TESTDATA, "librivox", "transcription")) as f:
        for line in f:
            m = re.match(r"^<s>(.*)</s>\s*\((.+)\)\s*$", line.strip())
            if m:
                name = m.group(2)
                out.append((f"librivox-{name.rsplit('-', 1)[1]}",
                            os.path.join(TESTDATA, "librivox", name + ".wav"), m.group(1)))
    with open(os.path.join(TESTDATA, "cards", "cards.transcription")) as f:
        for line in f:
            m = re.match(r"^<s>(.*)</s>\s*\((.+)\)\s*$", line.strip())
            if m:
                out.append((f"cards-{m.group(2)}", os.path.join(TESTDATA, "cards", m.group(2) + ".wav"),
                            m.group(1)))
    out.append(("goforward", os.path.join(TESTDATA, "goforward.raw"), "go forward ten meters"))
    for name in sorted(os.listdir(ALSA_SOUNDS)):
        if name.endswith(".wav") and name != "Noise.wav":
            out.append((f"alsa-{name[:-4].lower()}", os.path.join(ALSA_SOUNDS, name),
                        name[:-4].replace("_", " ")))
    return sorted((uid, path, normalise_text(ref)) for uid, path, ref in out)


# ---------------------------------------------------------------------------------------------------- audio

def channel(src, prefix):
    """tools/stt/channel: writes prefix.clean16.raw, prefix.tel8.raw and prefix.tel16.raw."""
    run([os.path.join(HERE, "channel"), src, prefix])


def write_wav(path, samples, rate):
    import numpy as np
    pcm = np.clip(np.round(samples), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def read_wav(path):
    import numpy as np
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
        if w.getnchannels() > 1:
            data = data.reshape(-1, w.getnchannels())[:, 0]
    return data, rate


def synthesise(text, voice, speed, pitch, out_wav, seed):
    """espeak-ng speech with 0.25 s / 0.35 s of padding and a low deterministic noise floor (about -55 dB below
    the speech peak), so that no frame is digital silence (real calls never are)."""
    import numpy as np
    raw = out_wav + ".espeak.wav"
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", raw, text])
    speech, rate = read_wav(raw)
    os.unlink(raw)
    peak = max(1.0, float(np.max(np.abs(speech))))
    pad = np.zeros(int(0.25 * rate)), np.zeros(int(0.35 * rate))
    signal = np.concatenate([pad[0], speech, pad[1]])
    rng = np.random.default_rng(seed)
    signal = signal + rng.standard_normal(len(signal)) * peak * 10 ** (-55 / 20)
    write_wav(out_wav, signal, rate)


# ---------------------------------------------------------------------------------------------------- features

def read_mfc(path, veclen=13):
    import numpy as np
    with open(path, "rb") as f:
        data = f.read()
    (count,) = struct.unpack("<i", data[:4])
    if count * 4 + 4 != len(data):
        raise ValueError(f"{path}: unexpected MFC header")
    return np.frombuffer(data, dtype="<f4", offset=4).astype(np.float64).reshape(-1, veclen)


def sphinx_fe(feat_params, ids, in_dir, in_ext, out_dir, samprate, nfft):
    """Cepstra of raw files in_dir/ID+in_ext with the model's front end (feat.params) into out_dir/ID.mfc."""
    os.makedirs(out_dir, exist_ok=True)
    ctl = os.path.join(out_dir, "fe.ctl")
    with open(ctl, "w") as f:
        f.write("".join(i + "\n" for i in ids))
    run(["sphinx_fe", "-argfile", feat_params, "-samprate", str(samprate), "-nfft", str(nfft),
         "-c", ctl, "-di", in_dir, "-ei", in_ext, "-do", out_dir, "-eo", "mfc", "-raw", "yes"])


def read_feat_params(path):
    """feat.params as an ordered list of [option, value]."""
    pairs = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                pairs.append([parts[0], " ".join(parts[1:])])
    return pairs


def feat_params_text(pairs, overrides):
    """The stock feat.params with options replaced (in place) or appended (in the order given)."""
    out = [list(p) for p in pairs]
    for key, value in overrides:
        for p in out:
            if p[0] == key:
                p[1] = value
                break
        else:
            out.append([key, value])
    return "".join(f"{k} {v}\n" for k, v in out)


def cmninit_value(mean):
    return ",".join(f"{x:.2f}" for x in mean)


def write_mllr(path, matrix, var_scale=None, nstreams=3):
    """A one-class MLLR file (pocketsphinx ps_mllr_read format): mean' = A mean + b, var' = h * var, with the same
    13x13 A for the cepstra, delta and delta-delta streams (deltas are linear in the cepstra), b = 0."""
    n = matrix.shape[0]
    h = var_scale if var_scale is not None else [1.0] * n
    lines = ["1", str(nstreams)]
    for _ in range(nstreams):
        lines.append(str(n))
        for row in matrix:
            lines.append(" ".join(f"{x:.6f}" for x in row))
        lines.append(" ".join("0.000000" for _ in range(n)))
        lines.append(" ".join(f"{x:.6f}" for x in h))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def make_model_dir(dest, feat_params):
    """The layout the product builds at run time: the stock model's files linked, plus our feat.params."""
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for name in MODEL_FILES:
        os.symlink(os.path.join(STOCK_MODEL, name), os.path.join(dest, name))
    shutil.copyfile(feat_params, os.path.join(dest, "feat.params"))
    return dest


# ---------------------------------------------------------------------------------------------------- text

def normalise_text(text):
    """Lower case, apostrophes kept inside words, every other punctuation mark removed."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return " ".join(w for w in words if w)


def load_cmudict(path=STOCK_DICT):
    """word -> list of pronunciation lines (the main entry first, then word(2), ...), in file order."""
    prons = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            word = re.sub(r"\(\d+\)$", "", parts[0])
            prons.setdefault(word, []).append(line.rstrip("\n"))
    return prons


# ---------------------------------------------------------------------------------------------------- corpus

def parse_corpus(path=CORPUS):
    """Fixtures/intents/corpus.txt: '@slot name = a | b | c', '[intent]', 't: text with {slot}', '#' comments.
    Returns (slots, templates) with templates a list of (intent, index, text), index counting the 't:' lines of
    its section from 0."""
    slots, templates = {}, []
    intent, index = None, 0
    with open(path) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"^@slot\s+([A-Za-z0-9_]+)\s*=\s*(.*)$", line)
            if m:
                slots[m.group(1)] = [v.strip() for v in m.group(2).split("|") if v.strip()]
                continue
            m = re.match(r"^\[([^\]]+)\]$", line)
            if m:
                intent, index = m.group(1).strip(), 0
                continue
            m = re.match(r"^t:\s*(.*)$", line)
            if m:
                if intent is None:
                    sys.exit(f"{path}:{number}: template outside an [intent] section")
                templates.append((intent, index, m.group(1).strip()))
                index += 1
                continue
            log(f"{path}:{number}: ignored line: {line}")
    return slots, templates


def expand_template(text, slots, count, seed):
    """Up to `count` distinct expansions of one template, deterministic for a seed. All combinations are used when
    there are at most `count`; otherwise combinations are drawn with a seeded generator."""
    import itertools
    import random
    names = re.findall(r"\{([A-Za-z0-9_]+)\}", text)
    unique = sorted(set(names))
    for name in unique:
        if name not in slots:
            sys.exit(f"unknown slot {{{name}}} in template: {text}")

    def fill(choice):
        return re.sub(r"\{([A-Za-z0-9_]+)\}", lambda m: choice[m.group(1)], text)

    total = 1
    for name in unique:
        total *= len(slots[name])
    if total <= count:
        combos = [dict(zip(unique, c)) for c in itertools.product(*(slots[n] for n in unique))]
        return [fill(c) for c in combos]
    rng = random.Random(seed)
    seen, out = set(), []
    tries = 0
    while len(out) < count and tries < count * 50:
        tries += 1
        choice = {n: rng.choice(slots[n]) for n in unique}
        key = tuple(choice[n] for n in unique)
        if key in seen:
            continue
        seen.add(key)
        out.append(fill(choice))
    return out


# ---------------------------------------------------------------------------------------------------- decoding

def parse_hyps(text):
    """pocketsphinx_batch / stream-decode output lines `hypothesis (id score)` -> {id: hypothesis}."""
    hyps = {}
    for line in text.splitlines():
        head, sep, tail = line.rstrip().rpartition(" (")
        if not sep:
            continue
        hyps[tail.rstrip(")").split()[0]] = " ".join(head.split())
    return hyps
