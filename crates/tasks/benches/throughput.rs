//! Generation and verification throughput per task.
//!
//! Run with `cargo bench -p selfcorrect-tasks --bench throughput`; prints one
//! line per task and operation as `task op items/s`. `bench/tasks.sh` runs this
//! beside reasoning-gym's generators and prints the ratios.

use std::time::{Duration, Instant};

use selfcorrect_tasks::{DEFAULT_RECOGNITION, task_by_name};

/// Runs `work` on item indices until `budget` has passed; returns items per second.
fn items_per_second(budget: Duration, mut work: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < budget {
        for _ in 0..16 {
            work(count);
            count += 1;
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let budget =
        Duration::from_secs_f64(std::env::var("BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0));
    for name in ["mult-2x2", "mult-4x4", "sudoku-4x4", "sudoku-9x9"] {
        let task = task_by_name(name).expect("registered task");

        let generate = items_per_second(budget, |index| {
            let problem = task.generate(1, index).expect("generation succeeds");
            std::hint::black_box(problem.golden_steps());
        });
        println!("{name} generate {generate:.1}");

        // Verification runs on pre-generated traces, so it measures parsing
        // and checking alone.
        let items: Vec<_> = (0..256)
            .map(|index| {
                let problem = task.generate(2, index).expect("generation succeeds");
                let trace = problem.golden_steps().join("\n");
                (problem, trace)
            })
            .collect();
        let verify = items_per_second(budget, |index| {
            let (problem, trace) = &items[index as usize % items.len()];
            std::hint::black_box(problem.annotate(trace, DEFAULT_RECOGNITION));
        });
        println!("{name} verify {verify:.1}");
    }
}
