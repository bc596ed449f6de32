//! The stage plan: a policy over stage keys that never touches files.
//!
//! A stage's key hashes its resolved config and the keys of the stages it
//! reads, so a changed stage reruns together with everything downstream of it.

use std::collections::HashMap;

/// Whether a stage can be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Finished earlier with the same key.
    Reuse,
    /// Never finished, or finished with another key.
    Run,
}

/// FNV-1a over the text, written as 16 hex digits: stable across platforms and releases.
pub fn stage_key(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// Returns the action for each stage, given the keys of stages finished before.
pub fn plan(stages: &[(String, String)], finished: &HashMap<String, String>) -> Vec<Action> {
    stages.iter().map(|(name, key)| if finished.get(name) == Some(key) { Action::Reuse } else { Action::Run }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unchanged_stages_are_reused() {
        let stages = vec![("data".to_string(), "a".to_string()), ("base".to_string(), "b".to_string())];
        let finished = HashMap::from([("data".to_string(), "a".to_string()), ("base".to_string(), "old".to_string())]);
        assert_eq!(plan(&stages, &finished), vec![Action::Reuse, Action::Run]);
        assert_eq!(plan(&stages, &HashMap::new()), vec![Action::Run, Action::Run]);
    }

    #[test]
    fn keys_differ_when_text_differs() {
        assert_ne!(stage_key("steps = 10"), stage_key("steps = 11"));
        assert_eq!(stage_key("x"), stage_key("x"));
    }
}
