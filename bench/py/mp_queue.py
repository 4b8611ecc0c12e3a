"""Python's multiprocessing.Queue doing what bench/queue_bench.cpp does:
1 producer -> 1 consumer unbounded and with maxsize 64 and 8, 4 producers ->
4 consumers with maxsize 1000, small int items; and 1 MiB bytes items from 1
producer to 1 consumer. Each round starts the processes, moves the items and
joins them. Prints "key value" (items/s, GiB/s)."""
import multiprocessing as mp

from measure import QUICK, emit, measure, seconds, start_server

MIB = 1 << 20


def produce(q, n):
    for i in range(n):
        q.put(i)


def consume(q, n):
    for _ in range(n):
        q.get()


def produce_bytes(q, n):
    item = b"x" * MIB
    for _ in range(n):
        q.put(item)


def consume_bytes(q, n):
    for _ in range(n):
        if len(q.get()) != MIB:
            raise SystemExit(2)


def move(ctx, producer, consumer, producers, consumers, total, maxsize):
    q = ctx.Queue(maxsize)
    ps = [ctx.Process(target=consumer, args=(q, total // consumers)) for _ in range(consumers)]
    ps += [ctx.Process(target=producer, args=(q, total // producers)) for _ in range(producers)]
    for p in ps:
        p.start()
    for p in ps:
        p.join()
    if any(p.exitcode != 0 for p in ps):
        raise SystemExit("mp_queue: a process failed")


def items_per_second(ctx, producers, consumers, total, maxsize):
    return measure(lambda: total / seconds(
        lambda: move(ctx, produce, consume, producers, consumers, total, maxsize)))


def main():
    ctx = mp.get_context("forkserver")
    start_server(ctx)
    n = 20_000 if QUICK else 200_000
    emit("1p1c", items_per_second(ctx, 1, 1, n, 0))
    emit("4p4c", items_per_second(ctx, 4, 4, n, 1000))
    bounded_n = 100_000 if QUICK else 400_000  # queue_bench's count
    emit("bounded64", items_per_second(ctx, 1, 1, bounded_n, 64))
    emit("bounded8", items_per_second(ctx, 1, 1, bounded_n, 8))
    big = 128 if QUICK else 256  # queue_bench's count
    emit("bandwidth_1mib_gibs", measure(lambda: big / 1024 / seconds(
        lambda: move(ctx, produce_bytes, consume_bytes, 1, 1, big, 0))))


if __name__ == "__main__":
    main()
