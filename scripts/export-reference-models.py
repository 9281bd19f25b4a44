#!/usr/bin/python3
"""Export the reference models `linesight bench` sizes hardware with, from Debian's torchvision.

    /usr/bin/python3 scripts/export-reference-models.py [--out DIR] [--models a,b] [--force]

Each model gets RANDOM weights (torch.manual_seed(0), a 2-class head): its timing is the real
architecture's, its verdicts mean nothing, and its manifest says so. Per model, under
DIR/<name>/<version>/ (a Linesight models directory, so the service loads it as is):

  model.onnx          opset 13, what ONNX Runtime (Linesight) runs
  model.opset10.onnx  the same weights at opset 10: Debian's OpenCV 4.6 DNN refuses the opset 11
                      and 13 exports (Identity nodes from folded batch norm, Clip with 3 inputs)
  weights.pt          the state dict, so the PyTorch baseline runs the same weights
  manifest.json       the Linesight manifest (sha256 of model.onnx, no golden samples)

Prints one JSON line per model written or already there. Needs python3-torch and
python3-torchvision (Debian packages); run with /usr/bin/python3, not a virtualenv.
"""
import argparse
import hashlib
import json
import os
import sys
import tempfile

VERSION = "1.0.0-random"
SEED = 0
SIZE = 224

# name -> torchvision constructor name. Small to large: what a line might run.
MODELS = {
    "mobilenetv3-small": "mobilenet_v3_small",
    "mobilenetv2": "mobilenet_v2",
    "efficientnet-b0": "efficientnet_b0",
    "resnet50": "resnet50",
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build(arch):
    import torch
    import torchvision

    torch.manual_seed(SEED)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=2)
    # Fresh batch-norm layers all hold mean 0, var 1, weight 1, bias 0: folded into the convolutions
    # they give identical bias tensors (so do the zero-initialised biases of convolutions), which the exporter de-duplicates into Identity nodes that
    # OpenCV's ONNX importer refuses. Random statistics, as a trained model has, give distinct ones.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and m.bias is not None:
                m.bias.uniform_(-0.01, 0.01)  # initialised to zeros: the same de-duplication
    return model.eval()


def export(model, path, opset):
    import torch

    dummy = torch.zeros(1, 3, SIZE, SIZE)
    torch.onnx.export(
        model,
        dummy,
        path,
        input_names=["input"],
        output_names=["logits"],
        opset_version=opset,
        do_constant_folding=True,
    )


def manifest(name, arch, onnx_sha):
    import torch
    import torchvision

    return {
        "schemaVersion": 1,
        "name": name,
        "version": VERSION,
        "description": (
            f"REFERENCE MODEL FOR SIZING, RANDOM WEIGHTS: torchvision {arch} architecture, untrained "
            "2-class head. Its timing is the architecture's; its verdicts mean nothing."
        ),
        "format": "onnx",
        "file": "model.onnx",
        "sha256": onnx_sha,
        "input": {
            "name": "input",
            "shape": [1, 3, SIZE, SIZE],
            "layout": "NCHW",
            "dtype": "float32",
            "colorOrder": "RGB",
            "resize": "stretch",
            "normalize": {"scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        },
        "output": {"name": "logits", "activation": "softmax"},
        "labels": ["good", "defect"],
        "failLabels": ["defect"],
        "thresholds": {"pass": 0.5, "fail": 0.5},
        "source": {
            "weights": f"random (torch.manual_seed({SEED})): for timing only, not trained",
            "architecture": f"torchvision.models.{arch}",
            "exporter": f"torch {torch.__version__}, torchvision {torchvision.__version__}, scripts/export-reference-models.py",
            "opset": 13,
            "opset10File": "model.opset10.onnx",
            "weightsFile": "weights.pt",
        },
    }


def write_one(out, name, arch, force):
    import torch

    dest = os.path.join(out, name, VERSION)
    if not force and os.path.exists(os.path.join(dest, "manifest.json")):
        return {"model": name, "dir": dest, "written": False}
    parent = os.path.dirname(dest)
    os.makedirs(parent, exist_ok=True)
    # Written in a staging directory and renamed: a watcher or a second run never sees half a model.
    stage = tempfile.mkdtemp(prefix=f".{VERSION}-", dir=parent)
    model = build(arch)
    export(model, os.path.join(stage, "model.onnx"), 13)
    export(model, os.path.join(stage, "model.opset10.onnx"), 10)
    torch.save(model.state_dict(), os.path.join(stage, "weights.pt"))
    with open(os.path.join(stage, "manifest.json"), "w") as f:
        json.dump(manifest(name, arch, sha256(os.path.join(stage, "model.onnx"))), f, indent=2)
        f.write("\n")
    if os.path.exists(dest):
        import shutil

        shutil.rmtree(dest)
    os.rename(stage, dest)
    return {"model": name, "dir": dest, "written": True}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "reference-models"))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--force", action="store_true", help="export again even when the version exists")
    args = p.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        print(f"unknown reference model(s) {', '.join(unknown)}; known: {', '.join(MODELS)}", file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError as e:
        print(f"needs Debian's python3-torch and python3-torchvision ({e}); run with /usr/bin/python3", file=sys.stderr)
        return 3
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in names:
        print(json.dumps(write_one(args.out, name, MODELS[name], args.force)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
