//! Checkpoint retention: a policy over step numbers that never touches files.

/// Returns the steps to delete so that only the newest `keep` remain.
pub fn steps_to_delete(existing: &[u64], keep: usize) -> Vec<u64> {
    let mut sorted = existing.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let excess = sorted.len().saturating_sub(keep);
    sorted.truncate(excess);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest() {
        assert_eq!(steps_to_delete(&[30, 10, 20, 40], 2), vec![10, 20]);
        assert_eq!(steps_to_delete(&[10], 2), Vec::<u64>::new());
        assert_eq!(steps_to_delete(&[], 1), Vec::<u64>::new());
    }
}
