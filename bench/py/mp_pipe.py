"""Python's multiprocessing.Pipe doing what bench/pipe_bench.cpp does: a
small-message round trip and 64 MiB-message bandwidth. Prints "key value"."""
import multiprocessing as mp

from measure import emit, per_call, start_server

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


def main():
    ctx = mp.get_context("forkserver")
    start_server(ctx)
    mine, theirs = ctx.Pipe()
    p = ctx.Process(target=echo, args=(theirs,))
    p.start()
    theirs.close()

    def rt():
        mine.send(1)
        mine.recv()

    emit("rtt_us", per_call(rt) * 1e6)
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

    emit("bandwidth_gibs", BIG / per_call(send) / 2**30)
    mine.close()
    p.join()


if __name__ == "__main__":
    main()
