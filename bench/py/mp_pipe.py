"""Python's multiprocessing.Pipe doing what bench/pipe_bench.cpp does: a
small-message round trip and 64 MiB-message bandwidth. Prints "key value"."""
import multiprocessing as mp
import sys
import time

QUICK = "--quick" in sys.argv
BIG = 64 << 20


def echo(conn):
    try:
        while True:
            conn.send(conn.recv())
    except EOFError:
        pass


def sink(conn):
    buffer = bytearray(BIG)
    try:
        while True:
            conn.send(conn.recv_bytes_into(buffer))
    except EOFError:
        pass


def per_call(body, seconds):
    body()
    n, t0 = 0, time.perf_counter()
    while True:
        body()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds and n >= 3:
            return elapsed / n


def main():
    seconds = 0.1 if QUICK else 1.0
    ctx = mp.get_context("forkserver")
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=echo, args=(theirs,))
    p.start()
    theirs.close()

    def rt():
        mine.send(1)
        mine.recv()

    print("rtt_us", per_call(rt, seconds) * 1e6, flush=True)
    mine.close()
    p.join()

    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=sink, args=(theirs,))
    p.start()
    theirs.close()
    payload = b"x" * BIG

    def send():
        mine.send_bytes(payload)
        mine.recv()

    print("bandwidth_gibs", BIG / per_call(send, seconds) / 2**30, flush=True)
    mine.close()
    p.join()


if __name__ == "__main__":
    main()
