"""Generation and scoring throughput of reasoning-gym's matching generators.

Prints `task op items/s` lines in the same form as the Rust bench
`crates/tasks/benches/throughput.rs`, for the task each generator matches:
products with two 2- or 4-digit factors, mini_sudoku (4x4, 8 empty cells)
and sudoku (9x9, 45 empty cells).
"""

import os
import sys
import time

import reasoning_gym

BUDGET = float(os.environ.get("BENCH_SECONDS", "2"))

PEERS = [
    ("mult-2x2", "products", dict(min_digits=2, max_digits=2, min_terms=2, max_terms=2)),
    ("mult-4x4", "products", dict(min_digits=4, max_digits=4, min_terms=2, max_terms=2)),
    ("sudoku-4x4", "mini_sudoku", dict(min_empty=8, max_empty=8)),
    ("sudoku-9x9", "sudoku", dict(min_empty=45, max_empty=45)),
]


def items_per_second(work):
    start = time.perf_counter()
    count = 0
    while time.perf_counter() - start < BUDGET:
        work(count)
        count += 1
    return count / (time.perf_counter() - start)


def main():
    for task, name, config in PEERS:
        # A dataset builds each item lazily from its own seed when indexed.
        dataset = reasoning_gym.create_dataset(name, size=10**9, seed=1, **config)
        rate = items_per_second(lambda index: dataset[index])
        print(f"{task} generate {rate:.1f}")

        entries = [dataset[index] for index in range(256)]
        rate = items_per_second(lambda index: dataset.score_answer(entries[index % 256]["answer"], entries[index % 256]))
        print(f"{task} verify {rate:.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
