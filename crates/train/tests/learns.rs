//! A small model learns mult-2x2 from scratch to at least 95% exact-match
//! accuracy. The default run trains the Llama family; set
//! `LEARN_FAMILIES=llama,qwen2,gemma` to train each family in turn (about three
//! times as long).

mod common;

use burn::tensor::Device;

#[test]
fn learns_mult_2x2() {
    let steps: u64 = std::env::var("LEARN_STEPS").ok().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let families = std::env::var("LEARN_FAMILIES").unwrap_or_else(|_| "llama".into());
    let dir = tempfile::tempdir().unwrap();
    let data = common::dataset(dir.path(), "mult-2x2", "ft", 4000, 64);

    for family in families.split(',') {
        let config = common::config(&data, &dir.path().join(family), family, steps).validate().unwrap();
        let started = std::time::Instant::now();
        let outcome = selfcorrect_train::train(&config, &Device::flex(), &mut |record| {
            eprintln!("{family}: {} ({:.0} s)", record.progress_line(steps), started.elapsed().as_secs_f64());
        })
        .unwrap();
        let accuracy = outcome.metrics.last().unwrap().validation_accuracy.unwrap();
        eprintln!("{family}: accuracy {accuracy} after {steps} steps in {:.0} s", started.elapsed().as_secs_f64());
        assert!(accuracy >= 0.95, "{family}: accuracy {accuracy} after {steps} steps");
    }
}
