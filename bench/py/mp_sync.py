"""Python's multiprocessing doing what bench/sync_bench.cpp does: Lock
acquire+release uncontended (one process) and contended (two processes), and
two processes incrementing a locked Value, and d[k] = v on a Manager's dict.
Prints "key value" (ops/s)."""
import multiprocessing as mp
import time

from measure import QUICK, emit, measure, seconds, start_server


def lock_loop(lock, go, n):
    go.wait()
    for _ in range(n):
        lock.acquire()
        lock.release()


def incr_loop(v, go, n):
    go.wait()
    for _ in range(n):
        with v.get_lock():
            v.value += 1


def across(ctx, target, shared, n, procs=2):
    go = ctx.Event()
    ps = [ctx.Process(target=target, args=(shared, go, n)) for _ in range(procs)]
    for p in ps:
        p.start()
    time.sleep(0.05)
    t0 = time.perf_counter()
    go.set()
    for p in ps:
        p.join()
    return procs * n / (time.perf_counter() - t0)


def main():
    ctx = mp.get_context("forkserver")
    start_server(ctx)
    n = 100_000 if QUICK else 500_000
    lock = ctx.Lock()

    def uncontended():
        for _ in range(n):
            lock.acquire()
            lock.release()

    emit("lock_uncontended", measure(lambda: n / seconds(uncontended)))
    emit("lock_contended", measure(lambda: across(ctx, lock_loop, lock, n)))

    def incr():
        v = ctx.Value("l", 0)
        rate = across(ctx, incr_loop, v, n)
        if v.value != 2 * n:
            raise SystemExit("mp_sync: lost increments")
        return rate

    emit("value_incr", measure(incr))
    with ctx.Manager() as m:
        d = m.dict()
        calls = 5_000 if QUICK else 50_000

        def sets():
            for i in range(calls):
                d[i % 1000] = i

        emit("manager_dict_set", measure(lambda: calls / seconds(sets)))


if __name__ == "__main__":
    main()
