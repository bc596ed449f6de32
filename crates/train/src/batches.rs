//! Which examples make up each micro-batch: a pure function of the seed and
//! the position in the example stream, so a resumed run sees exactly the
//! batches an uninterrupted one would.

use selfcorrect_tasks::{Rng, item_seed};

/// The order in which a run visits its examples: epoch after epoch, each a
/// fresh permutation drawn from the seed.
#[derive(Debug, Clone)]
pub struct ExampleOrder {
    seed: u64,
    count: usize,
    /// The permutation of the epoch last asked for.
    cached: Option<(u64, Vec<usize>)>,
}

impl ExampleOrder {
    pub fn new(seed: u64, count: usize) -> Self {
        Self { seed, count, cached: None }
    }

    /// Returns the example at position `position` of the endless stream.
    pub fn example_at(&mut self, position: u64) -> usize {
        let epoch = position / self.count as u64;
        let offset = (position % self.count as u64) as usize;
        if self.cached.as_ref().is_none_or(|(cached, _)| *cached != epoch) {
            let mut permutation: Vec<usize> = (0..self.count).collect();
            Rng::new(item_seed("train-order", self.seed, epoch)).shuffle(&mut permutation);
            self.cached = Some((epoch, permutation));
        }
        self.cached.as_ref().map_or(offset, |(_, permutation)| permutation[offset])
    }

    /// Indices of micro-batch `micro` of optimiser step `step`.
    pub fn micro_batch(&mut self, step: u64, micro: usize, accumulation: usize, batch_size: usize) -> Vec<usize> {
        let first = (step * accumulation as u64 + micro as u64) * batch_size as u64;
        (first..first + batch_size as u64).map(|position| self.example_at(position)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_epoch_visits_every_example_once() {
        let mut order = ExampleOrder::new(3, 10);
        for epoch in 0..3u64 {
            let mut seen: Vec<usize> = (0..10).map(|i| order.example_at(epoch * 10 + i)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..10).collect::<Vec<_>>());
        }
    }

    #[test]
    fn batches_depend_only_on_position() {
        let mut first = ExampleOrder::new(5, 7);
        let mut second = ExampleOrder::new(5, 7);
        let early: Vec<Vec<usize>> = (0..6).map(|step| first.micro_batch(step, 1, 2, 3)).collect();
        // Asked out of order, the same steps give the same batches.
        for step in (0..6).rev() {
            assert_eq!(second.micro_batch(step, 1, 2, 3), early[step as usize]);
        }
        assert_ne!(ExampleOrder::new(6, 7).micro_batch(0, 0, 1, 7), first.micro_batch(0, 0, 1, 7));
    }
}
