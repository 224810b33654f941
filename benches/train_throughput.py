#!/usr/bin/env python3
"""Training throughput (tokens/s) of a model configuration on CPU: cantus-train (candle) next to
a PyTorch nn.LSTM of the same size trained the same way (embedding -> LSTM layers -> dropout ->
linear, truncated BPTT with the state carried between chunks, Adam, gradient clipping), both
measured in this run on this machine. The PyTorch half is skipped, with a message, when torch
is not installed.

    python3 benches/train_throughput.py [models/folk/train.toml] [--steps 20]
"""
import argparse
import json
import os
import subprocess
import sys
import time
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cantus(config, steps):
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--bin", "cantus-train"], cwd=ROOT, check=True
    )
    binary = os.path.join(ROOT, "target", "release", "cantus-train")
    out = subprocess.run(
        [binary, "bench", config, "--steps", str(steps)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)["tokens_per_second"]


def pytorch(cfg, vocab, steps):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count())
    m, t = cfg["model"], cfg["training"]
    if m["cell"] != "lstm":
        return None
    batch, seq = t["batch_size"], t["sequence_length"]

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, m["embedding"])
            self.rnn = torch.nn.LSTM(
                m["embedding"], m["hidden"], m["layers"],
                dropout=m.get("dropout", 0.0) if m["layers"] > 1 else 0.0, batch_first=True,
            )
            self.drop = torch.nn.Dropout(m.get("dropout", 0.0))
            self.head = torch.nn.Linear(m["hidden"], vocab)

        def forward(self, x, state):
            y, state = self.rnn(self.embedding(x), state)
            return self.head(self.drop(y)), state

    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=t["learning_rate"])
    data = torch.randint(0, vocab, (batch, (steps + 3) * seq + 1))
    state = None
    tokens, started = 0, time.perf_counter()
    for i in range(steps + 2):
        if i == 2:
            tokens, started = 0, time.perf_counter()
        x = data[:, i * seq:(i + 1) * seq]
        y = data[:, i * seq + 1:(i + 1) * seq + 1]
        logits, state = net(x, state)
        state = tuple(s.detach() for s in state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        if t.get("clip_norm", 0) > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), t["clip_norm"])
        opt.step()
        tokens += x.numel()
    return tokens / (time.perf_counter() - started), torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("config", nargs="?", default="models/folk/train.toml")
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    with open(os.path.join(ROOT, args.config), "rb") as f:
        cfg = tomllib.load(f)
    vocab = {"melody_events": 63, "pitch_sequence": 61, "intervals": 182}.get(
        cfg["data"]["encoding"], 100
    )
    m, t = cfg["model"], cfg["training"]
    print(
        f"{args.config}: {m['cell']} {m['layers']}x{m['hidden']}, embedding {m['embedding']}, "
        f"vocabulary {vocab}, batch {t['batch_size']} x {t['sequence_length']} steps, "
        f"{os.cpu_count()} CPU threads, {args.steps} timed steps"
    )
    ours = cantus(args.config, args.steps)
    print(f"cantus-train (candle): {ours:10.0f} tokens/s")
    theirs = pytorch(cfg, vocab, args.steps)
    if theirs is None:
        print("PyTorch: skipped (torch is not installed, or the cell is not an LSTM)")
        return
    rate, version = theirs
    print(f"PyTorch {version} nn.LSTM: {rate:10.0f} tokens/s")
    print(f"ratio cantus / PyTorch: {ours / rate:.2f}")


if __name__ == "__main__":
    sys.exit(main())
