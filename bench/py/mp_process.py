"""Python's multiprocessing doing what bench/process_bench.cpp does: start ->
join of a no-op target per start method, and the RSS of an idle child.
Prints lines of "key value" (ms, MB) for the C++ harness."""
import multiprocessing as mp
import sys
import time

QUICK = "--quick" in sys.argv


def noop():
    pass


def idle():
    time.sleep(2)


def start_join_ms(ctx, seconds):
    p = ctx.Process(target=noop)  # warm up (starts the fork server)
    p.start()
    p.join()
    n, t0 = 0, time.perf_counter()
    while True:
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 3:
            return elapsed / n * 1e3


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    seconds = 0.3 if QUICK else 2.0
    for method in ("fork", "forkserver", "spawn"):
        ctx = mp.get_context(method)
        print(method, start_join_ms(ctx, seconds), flush=True)
    ctx = mp.get_context("forkserver")
    p = ctx.Process(target=idle)
    p.start()
    time.sleep(0.3)
    print("idle_rss", rss_mb(p.pid), flush=True)
    p.kill()
    p.join()


if __name__ == "__main__":
    main()
