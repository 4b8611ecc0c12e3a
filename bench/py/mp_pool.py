"""Python's multiprocessing.Pool doing what bench/pool_bench.cpp does: map of
a trivial function over 1M ints (200k with --quick) with 2 workers (default
chunksize), map with
chunksize 1, pipelined apply_async, one apply_async(f).get() at a time, and a
64-worker pool that starts and completes a map. Prints "key value" (items/s,
tasks/s, us or s)."""
import multiprocessing as mp
import statistics
import time

from measure import QUICK, emit, measure, seconds, start_server


def twice(x):
    return 2 * x


def main():
    ctx = mp.get_context("forkserver")
    start_server(ctx)
    with ctx.Pool(2) as pool:
        big = 200_000 if QUICK else 1_000_000  # pool_bench's count
        emit("map", measure(lambda: big / seconds(lambda: pool.map(twice, range(big)))))
        n = 3_000 if QUICK else 20_000
        emit("map_chunksize1", measure(lambda: n / seconds(lambda: pool.map(twice, range(n), chunksize=1))))
        tasks = 2_000 if QUICK else 20_000

        def apply_all():
            rs = [pool.apply_async(twice, (i,)) for i in range(tasks)]
            for r in rs:
                r.get()

        emit("apply_async", measure(lambda: tasks / seconds(apply_all)))
        calls = 200 if QUICK else 2000

        def latency_round():
            us = []
            for i in range(calls):
                t0 = time.perf_counter()
                pool.apply_async(twice, (i,)).get()
                us.append((time.perf_counter() - t0) * 1e6)
            return statistics.median(us)

        emit("apply_latency_us", measure(latency_round))

    def start_map_64():
        with ctx.Pool(64) as big:
            big.map(twice, range(640))

    emit("start_map_64", measure(lambda: seconds(start_map_64)))


if __name__ == "__main__":
    main()
