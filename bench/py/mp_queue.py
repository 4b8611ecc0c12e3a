"""Python's multiprocessing.Queue doing what bench/queue_bench.cpp does:
1 producer -> 1 consumer unbounded, and 4 producers -> 4 consumers with
maxsize 1000, small int items. Prints "key value" (items/s)."""
import multiprocessing as mp
import sys
import time

QUICK = "--quick" in sys.argv


def produce(q, n):
    for i in range(n):
        q.put(i)


def consume(q, n):
    for _ in range(n):
        q.get()


def items_per_second(ctx, producers, consumers, total, maxsize):
    q = ctx.Queue(maxsize)
    ps = [ctx.Process(target=consume, args=(q, total // consumers)) for _ in range(consumers)]
    ps += [ctx.Process(target=produce, args=(q, total // producers)) for _ in range(producers)]
    t0 = time.perf_counter()
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    return total / (time.perf_counter() - t0)


def main():
    ctx = mp.get_context("forkserver")
    n = 40_000 if QUICK else 200_000
    print("1p1c", items_per_second(ctx, 1, 1, n, 0), flush=True)
    print("4p4c", items_per_second(ctx, 4, 4, n, 1000), flush=True)


if __name__ == "__main__":
    main()
