"""Python's multiprocessing.Pool doing what bench/pool_bench.cpp does: map of
a trivial function over 1M ints with 2 workers (default chunksize), map with
chunksize 1, pipelined apply_async, and a 64-worker pool that starts and
completes a map. Prints "key value" (items/s, tasks/s, or s)."""
import multiprocessing as mp
import sys
import time

QUICK = "--quick" in sys.argv


def twice(x):
    return 2 * x


def best(rounds, f):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def main():
    ctx = mp.get_context("forkserver")
    rounds = 1 if QUICK else 3
    with ctx.Pool(2) as pool:
        pool.map(twice, range(1000))  # warm up
        s = best(rounds, lambda: pool.map(twice, range(1_000_000)))
        print("map", 1_000_000 / s, flush=True)
        n = 3_000 if QUICK else 20_000
        s = best(rounds, lambda: pool.map(twice, range(n), chunksize=1))
        print("map_chunksize1", n / s, flush=True)
        n = 5_000 if QUICK else 20_000

        def apply_all():
            rs = [pool.apply_async(twice, (i,)) for i in range(n)]
            for r in rs:
                r.get()

        s = best(rounds, apply_all)
        print("apply_async", n / s, flush=True)

    def start_map_64():
        with ctx.Pool(64) as big:
            big.map(twice, range(640))

    print("start_map_64", best(1, start_map_64), flush=True)


if __name__ == "__main__":
    main()
