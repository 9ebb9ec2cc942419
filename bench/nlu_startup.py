"""Benchmark: the intent model's start-up cost, old path (train at start) against new (load the artifact).

python bench/nlu_startup.py [--rounds 3] [--old]

Prints, all measured in one run with the two paths alternated (so machine load hits both alike):

1. in-process: train the default classifier on the shipped data (the old ``default_nlu`` path) against
   loading the compiled artifact (the new one); medians and their ratio;
2. cold processes: ``leadgate nlu parse "..."`` wall time with the default artifact (TF-IDF, MiniLM
   encoder and neighbour blocks) in the cache, with the TF-IDF-only artifact (``LEADGATE_NLU_EMBEDDINGS=off``,
   the default before the encoder: what the encoder adds), and with ``--old`` with an empty cache (the
   old cost: the process trains before it answers; 40-90 s each with the encoder, so off by default);
3. serve's share: in a cold process that has already imported the chat runtime (``leadgate.chat.runtime``,
   what ``serve`` builds its assistant from), the time ``default_nlu()`` holds up start-up: new = artifact
   cached and the warm-up parse in the background (what ``Assistant`` does), old = empty cache (trains) and
   the warm-up parse blocking (as before issue 10); plus when the background warm-up finished.

Every cache lives in a temporary directory; the user's cache is not touched.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MESSAGE = "hi, we're about 200 people and need pricing for 40 seats by Q3"

_SERVE_SHARE = """
import os, threading, time
import leadgate.chat.runtime, leadgate.api  # what serve imports before it builds the chat assistant
t = time.perf_counter()
from leadgate.chat.nlu import default_nlu
default_nlu(warm_up=False)
loaded = time.perf_counter()
# the warm-up parse (dateparser's and phonenumbers' lazy tables): serve's Assistant runs it in the background;
# before, it blocked start-up
default_nlu(warm_up=True if os.environ["WARM_UP"] == "now" else "background")
blocked = time.perf_counter()
for th in threading.enumerate():
    if th.name == "leadgate-nlu-warm-up":
        th.join()
print(f"{blocked - t:.4f} {loaded - t:.4f} {time.perf_counter() - t:.4f}")
"""


def _leadgate() -> list[str]:
    script = Path(sys.executable).with_name("leadgate")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from leadgate.cli import app; app()"]


_CPU: list[float] = []
"""CPU seconds (user + sys) of each child run by :func:`_wall`, in order: on a shared machine the wall time
depends on the other processes, the CPU time much less."""


def _wall(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    _CPU.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return wall, done.stdout


def _fmt(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--old",
        action="store_true",
        help="also time cold processes with an empty cache (each trains: 40-90 s with the encoder)",
    )
    args = parser.parse_args()

    from leadgate.chat.nlu.artifact import TrainingSource
    from leadgate.chat.nlu.compiled import CompiledIntentModel
    from leadgate.chat.nlu.intent import build_default_model, use_embeddings
    from leadgate.chat.nlu.minilm import load_default_embedder
    from leadgate.chat.nlu.model import IntentClassifier

    with tempfile.TemporaryDirectory(prefix="leadgate-bench-nlu-") as tmp:
        warm_cache = Path(tmp) / "warm"
        source = TrainingSource.shipped()
        with_encoder = use_embeddings("auto")
        embedder = load_default_embedder() if with_encoder else None
        _, info = build_default_model(with_encoder, warm_cache)
        _, tfidf_info = build_default_model(False, warm_cache)
        print(f"artifact: {info.path} ({info.path.stat().st_size / 1e6:.1f} MB), key {info.key[:16]}...")
        print(f"TF-IDF-only artifact: {tfidf_info.path} ({tfidf_info.path.stat().st_size / 1e6:.1f} MB)")
        print(
            f"training examples: {len(source.examples())}; MiniLM encoder: {'yes' if with_encoder else 'NOT INSTALLED'}"
        )

        train_s, load_s = [], []
        for i in range(args.rounds):
            if i == 0 or args.old:  # training takes 40-90 s with the encoder: once unless --old
                t = time.perf_counter()
                IntentClassifier(embedder=embedder).train(source.examples())
                train_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            CompiledIntentModel.load(info.path, embedder=embedder)
            load_s.append(time.perf_counter() - t)
        ratio = statistics.median(train_s) / statistics.median(load_s)
        print("\n1. in-process, alternated")
        print(f"   old, train:         {_fmt(train_s)}")
        print(f"   new, load artifact: {_fmt(load_s)}")
        print(f"   ratio old/new: {ratio:.0f}x")

        env_warm = {**os.environ, "LEADGATE_NLU_CACHE_DIR": str(warm_cache)}
        env_tfidf = {**env_warm, "LEADGATE_NLU_EMBEDDINGS": "off"}
        cold_new, cold_old, serve_new, serve_old, cpu_new, cpu_old = [], [], [], [], [], []
        cold_tfidf: list[float] = []
        serve_tfidf: list[float] = []
        serve_load: list[float] = []
        serve_done: list[float] = []
        for i in range(args.rounds):
            empty = Path(tmp) / f"empty-{i}"
            env_empty = {**os.environ, "LEADGATE_NLU_CACHE_DIR": str(empty)}
            cmd = [*_leadgate(), "nlu", "parse", MESSAGE]
            cold_new.append(_wall(cmd, env_warm)[0])
            cpu_new.append(_CPU[-1])
            cold_tfidf.append(_wall(cmd, env_tfidf)[0])
            if args.old:
                cold_old.append(_wall(cmd, env_empty)[0])
                cpu_old.append(_CPU[-1])
            env_bg = {**env_warm, "WARM_UP": "background"}
            total, load, done = _wall([sys.executable, "-c", _SERVE_SHARE], env_bg)[1].split()
            serve_new.append(float(total))
            serve_load.append(float(load))
            serve_done.append(float(done))
            serve_tfidf.append(
                float(
                    _wall([sys.executable, "-c", _SERVE_SHARE], {**env_tfidf, "WARM_UP": "background"})[
                        1
                    ].split()[0]
                )
            )
            if args.old:
                empty2 = Path(tmp) / f"empty2-{i}"
                env_empty2 = {**os.environ, "LEADGATE_NLU_CACHE_DIR": str(empty2), "WARM_UP": "now"}
                serve_old.append(float(_wall([sys.executable, "-c", _SERVE_SHARE], env_empty2)[1].split()[0]))
        print("\n2. cold process: leadgate nlu parse, wall time (target < 2 s)")
        print(f"   new, artifact cached:       {_fmt(cold_new)}")
        print(
            f"   TF-IDF only, cached:        {_fmt(cold_tfidf)}  (what the encoder adds: "
            f"{statistics.median(cold_new) - statistics.median(cold_tfidf):+.2f} s)"
        )
        print(f"   CPU time (user+sys), new: {_fmt(cpu_new)}")
        if args.old:
            print(f"   old, empty cache (trains):  {_fmt(cold_old)}")
            print(f"   ratio old/new: {statistics.median(cold_old) / statistics.median(cold_new):.1f}x")
            print(f"   CPU time (user+sys), old: {_fmt(cpu_old)}")
        print(
            "\n3. NLU's share of serve's start-up: default_nlu() after the chat runtime's imports (target < 0.5 s)"
        )
        print(f"   new, artifact cached, warm-up in the background: {_fmt(serve_new)}")
        print(f"     of which the model and extractor load:         {_fmt(serve_load)}")
        print(f"     background warm-up finished after (not waited): {_fmt(serve_done)}")
        print(f"   TF-IDF only, cached, warm-up in the background:  {_fmt(serve_tfidf)}")
        if args.old:
            print(f"   old, empty cache (trains), warm-up blocking:     {_fmt(serve_old)}")
            print(f"   ratio old/new: {statistics.median(serve_old) / statistics.median(serve_new):.1f}x")
        print(f"\nload average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
