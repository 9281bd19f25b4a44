#!/usr/bin/python3
"""What a user might write instead of Linesight: a Python loop over camera frames, with Debian's
packages. Called by `linesight bench`; prints one JSON object.

    /usr/bin/python3 scripts/bench-python-baseline.py --engine torch|opencv --model-dir DIR
        --seconds S FRAME.jpg [FRAME.jpg ...]

Per frame: cv2.imdecode, resize to the model input, normalise (the manifest's mean/std), then
torch forward (engine torch: torchvision architecture + weights.pt, torch.inference_mode) or
cv2.dnn forward (engine opencv: model.opset10.onnx). Threads are the library defaults (all
cores): what a user gets without tuning. Exit 3 with a reason on stderr when a module is missing
or the model cannot be imported.
"""
import argparse
import json
import os
import sys
import time


def fail(why):
    print(why, file=sys.stderr)
    sys.exit(3)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2] if s else 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--engine", choices=["torch", "opencv"], required=True)
    p.add_argument("--model-dir", required=True)
    p.add_argument("--seconds", type=float, default=5)
    p.add_argument("frames", nargs="+")
    a = p.parse_args()
    try:
        import cv2
        import numpy as np
    except ImportError as e:
        fail(f"python3-opencv/numpy missing ({e})")
    with open(os.path.join(a.model_dir, "manifest.json")) as f:
        m = json.load(f)
    src = m.get("source") or {}
    _, _, H, W = m["input"]["shape"]
    norm = m["input"]["normalize"]
    mean = np.array(norm["mean"], dtype=np.float32) / norm["scale"]
    std = np.array(norm["std"], dtype=np.float32) / norm["scale"]
    frames = [open(path, "rb").read() for path in a.frames]

    def preprocess(data):
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        img = cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR)
        if m["input"]["colorOrder"] == "RGB":
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        x = (img.astype(np.float32) - mean) / std
        return np.ascontiguousarray(x.transpose(2, 0, 1)[None])

    if a.engine == "torch":
        arch = str(src.get("architecture", ""))
        weights = src.get("weightsFile")
        if not arch.startswith("torchvision.models.") or not weights:
            fail("no torchvision architecture and weights file in the manifest (only the reference models have them)")
        try:
            import torch
            import torchvision
        except ImportError as e:
            fail(f"python3-torch/python3-torchvision missing ({e})")
        model = getattr(torchvision.models, arch.split(".")[-1])(weights=None, num_classes=len(m["labels"]))
        model.load_state_dict(torch.load(os.path.join(a.model_dir, weights)))
        model.eval()
        threads = torch.get_num_threads()
        version = f"torch {torch.__version__}"

        def infer(x):
            with torch.inference_mode():
                return model(torch.from_numpy(x)).numpy()
    else:
        onnx = src.get("opset10File")
        if not onnx:
            fail("no opset-10 ONNX file in the manifest (OpenCV 4.6 DNN refuses opset 11 and 13 exports)")
        try:
            net = cv2.dnn.readNetFromONNX(os.path.join(a.model_dir, onnx))
        except cv2.error as e:
            lines = [l.strip("> ").strip() for l in str(e).splitlines() if "error" in l.lower()]
            fail(f"OpenCV DNN cannot import the model: {lines[-1] if lines else str(e).strip()}")
        threads = cv2.getNumThreads()
        version = f"opencv {cv2.__version__}"

        def infer(x):
            net.setInput(x)
            return net.forward()

    # Warm-up, as any loop would have after its first frames.
    for data in frames[:3]:
        infer(preprocess(data))
    pre, inf = [], []
    n = 0
    t0 = time.perf_counter()
    end = t0 + a.seconds
    while time.perf_counter() < end:
        data = frames[n % len(frames)]
        t = time.perf_counter()
        x = preprocess(data)
        t1 = time.perf_counter()
        infer(x)
        t2 = time.perf_counter()
        pre.append((t1 - t) * 1000)
        inf.append((t2 - t1) * 1000)
        n += 1
    wall = time.perf_counter() - t0
    print(json.dumps({
        "engine": a.engine,
        "version": version,
        "threads": threads,
        "parts": n,
        "partsPerSec": n / wall,
        "preprocessMsP50": median(pre),
        "inferenceMsP50": median(inf),
    }))


if __name__ == "__main__":
    main()
