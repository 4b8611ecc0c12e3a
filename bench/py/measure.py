"""What every Python peer shares with bench/harness.cpp, so that both sides
are measured the same way: one untimed warm-up round, then ROUNDS rounds (the
harness passes its own count with --rounds), the median printed as
"key value" for the harness."""
import statistics
import sys
import time

QUICK = "--quick" in sys.argv
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else (3 if QUICK else 7)
BUDGET = 0.02 if QUICK else 0.2  # seconds per round of per_call, as the harness


def measure(one_round):
    """The median of ROUNDS figures of one_round(), after one untimed call."""
    one_round()
    return statistics.median(one_round() for _ in range(ROUNDS))


def round_of(body):
    """Seconds per call of body(), called for about BUDGET seconds (at least 3 times)."""
    n, t0 = 0, time.perf_counter()
    while True:
        body()
        n += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= BUDGET and n >= 3:
            return elapsed / n


def per_call(body):
    """Seconds per call of body(): the median of ROUNDS rounds, after one untimed round."""
    return measure(lambda: round_of(body))


def seconds(body):
    """Seconds body() takes, timed whole: the figure of one round."""
    t0 = time.perf_counter()
    body()
    return time.perf_counter() - t0


def _noop():
    pass


def start_server(ctx):
    """Starts the context's fork server (if it has one) before any clock runs,
    as libactors' node starts its own: starts and joins one trivial process."""
    p = ctx.Process(target=_noop)
    p.start()
    p.join()


def emit(key, figure):
    print(key, figure, flush=True)
