"""Python's multiprocessing doing what bench/process_bench.cpp does: start ->
join of a no-op target per start method, and the RSS of an idle child.
Prints lines of "key value" (ms, MB) for the C++ harness."""
import multiprocessing as mp
import time

from measure import emit, per_call, start_server

CTX = None


def noop():
    pass


def idle():
    time.sleep(2)


def start_join():
    p = CTX.Process(target=noop)
    p.start()
    p.join()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    global CTX
    for method in ("fork", "forkserver", "spawn"):
        CTX = mp.get_context(method)
        start_server(CTX)
        emit(method, per_call(start_join) * 1e3)
    ctx = mp.get_context("forkserver")
    p = ctx.Process(target=idle)
    p.start()
    time.sleep(0.3)
    emit("idle_rss", rss_mb(p.pid))
    p.kill()
    p.join()


if __name__ == "__main__":
    main()
