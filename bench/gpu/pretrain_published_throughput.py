"""Pre-training step time of the published benchmark encoders on a GPU at the paper's config, ours vs a plain-PyTorch
reference (bench/pretrain_published.py, which this runs with the GPU defaults).

    python bench/gpu/pretrain_published_throughput.py            # CUDA: global batch 128 (the README's command),
                                                                 # 60,697 tokens, 6 x 256, <cls> + 512 / 511 genes
    python bench/gpu/pretrain_published_throughput.py --batch 64 --structures transformer,cnn_ours
    /usr/bin/python3 bench/gpu/pretrain_published_throughput.py --smoke   # tiny run on CPU: checks the script works

Prints one row per structure (ours and reference seconds per step, their ratio, peak GPU memory is in torch's
allocator) and, with --json OUT, writes the rows.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from pretrain_published import run  # noqa: E402


def main(argv):
    if "--smoke" in argv:
        rest = [a for a in argv if a != "--smoke"]
        return run(["--device", "cpu", "--batch", "2", "--repeats", "1", "--vocab", "2100",
                    "--structures", "transformer,cnn_ours"] + rest)
    if not torch.cuda.is_available():
        sys.stderr.write("no CUDA device: run with --smoke on CPU, or bench/pretrain_published.py for CPU timings\n")
        return 2
    rows = run(["--device", "cuda", "--batch", "128", "--repeats", "10"] + argv)
    print("peak GPU memory (all structures): %.0f MiB" % (torch.cuda.max_memory_allocated() / 2 ** 20))
    return rows


if __name__ == "__main__":
    out = main(sys.argv[1:])
    sys.exit(out if isinstance(out, int) else 0)
