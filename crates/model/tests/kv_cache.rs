//! KV-cache decoding against full recomputation, and padding against unpadded rows.

mod common;

use burn::prelude::*;
use common::{int_tensor, max_abs_diff, test_model, to_vec3};
use selfcorrect_model::{Family, FinishReason, KvCache, SamplingConfig, Transformer, generate, token_log_probs};

/// Logits of f32 models agree to this absolute tolerance whatever the order of operations.
const LOGIT_TOLERANCE: f64 = 1e-4;

/// Greedy continuation of one prompt by recomputing the whole sequence at every step.
fn greedy_by_recomputation(model: &Transformer, prompt: &[u32], steps: usize, device: &Device) -> Vec<u32> {
    let mut sequence: Vec<i64> = prompt.iter().map(|&id| id as i64).collect();
    let mut new_tokens = Vec::new();
    for _ in 0..steps {
        let logits = model.forward(int_tensor(&[sequence.clone()], device), None).expect("forward");
        let last = to_vec3(logits)[0].last().cloned().expect("one position");
        let mut best = 0;
        for (id, &logit) in last.iter().enumerate() {
            if logit > last[best] {
                best = id;
            }
        }
        new_tokens.push(best as u32);
        sequence.push(best as i64);
    }
    new_tokens
}

#[test]
fn greedy_generate_matches_recomputation() {
    let device = Device::flex();
    let prompts = vec![vec![3, 7, 1, 9, 4], vec![5], vec![2, 8, 8]];
    for family in Family::ALL {
        let model = test_model(family, 11, &device);
        let config = SamplingConfig::greedy(8, None);
        let generations = generate(&model, &prompts, &config, &device).expect("generate");

        for (prompt, generation) in prompts.iter().zip(&generations) {
            let expected = greedy_by_recomputation(&model, prompt, 8, &device);
            assert_eq!(generation.tokens, expected, "{family:?}, prompt {prompt:?}");
            assert_eq!(generation.finish_reason, FinishReason::MaxNewTokens);
        }
    }
}

#[test]
fn cached_logits_match_full_forward() {
    let device = Device::flex();
    // Left-padded batch: row 1 has two padding positions.
    let ids = vec![vec![3, 7, 1, 9, 4, 6], vec![0, 0, 5, 2, 8, 8]];
    let mask = vec![vec![1, 1, 1, 1, 1, 1], vec![0, 0, 1, 1, 1, 1]];
    for family in Family::ALL {
        let model = test_model(family, 12, &device);
        let full =
            to_vec3(model.forward(int_tensor(&ids, &device), Some(int_tensor(&mask, &device))).expect("forward"));

        // Prefill three positions, then decode one at a time.
        let mut kv_cache = KvCache::new(model.config().num_hidden_layers);
        let prefix: Vec<Vec<i64>> = ids.iter().map(|row| row[..3].to_vec()).collect();
        let prefix_mask: Vec<Vec<i64>> = mask.iter().map(|row| row[..3].to_vec()).collect();
        let mut cached = to_vec3(
            model
                .forward_with_cache(
                    int_tensor(&prefix, &device),
                    Some(int_tensor(&prefix_mask, &device)),
                    &mut kv_cache,
                    0,
                )
                .expect("prefill"),
        );
        for t in 3..6 {
            let step: Vec<Vec<i64>> = ids.iter().map(|row| vec![row[t]]).collect();
            let logits = model.forward_with_cache(int_tensor(&step, &device), None, &mut kv_cache, t).expect("decode");
            for (row, logits) in to_vec3(logits).into_iter().enumerate() {
                cached[row].extend(logits);
            }
        }
        assert_eq!(kv_cache.seq_len(), 6);

        for (row, row_mask) in mask.iter().enumerate() {
            for t in (0..6).filter(|&t| row_mask[t] == 1) {
                let diff = max_abs_diff(&full[row][t], &cached[row][t]);
                assert!(diff < LOGIT_TOLERANCE, "{family:?} row {row} position {t}: diff {diff}");
            }
        }
    }
}

#[test]
fn padding_matches_unpadded_rows() {
    let device = Device::flex();
    let row = vec![4, 9, 2, 7];
    for family in Family::ALL {
        let model = test_model(family, 13, &device);
        let alone = to_vec3(model.forward(int_tensor(std::slice::from_ref(&row), &device), None).expect("forward"));

        // Left padding: real tokens at positions 2..6.
        let left = vec![vec![0, 0, 4, 9, 2, 7], vec![1, 2, 3, 4, 5, 6]];
        let left_mask = vec![vec![0, 0, 1, 1, 1, 1], vec![1; 6]];
        let left_logits =
            to_vec3(model.forward(int_tensor(&left, &device), Some(int_tensor(&left_mask, &device))).expect("forward"));
        // Right padding: real tokens at positions 0..4.
        let right = vec![vec![4, 9, 2, 7, 0, 0], vec![1, 2, 3, 4, 5, 6]];
        let right_mask = vec![vec![1, 1, 1, 1, 0, 0], vec![1; 6]];
        let right_logits = to_vec3(
            model.forward(int_tensor(&right, &device), Some(int_tensor(&right_mask, &device))).expect("forward"),
        );

        for t in 0..4 {
            let diff = max_abs_diff(&alone[0][t], &left_logits[0][t + 2]);
            assert!(diff < LOGIT_TOLERANCE, "{family:?} left padding, position {t}: diff {diff}");
            let diff = max_abs_diff(&alone[0][t], &right_logits[0][t]);
            assert!(diff < LOGIT_TOLERANCE, "{family:?} right padding, position {t}: diff {diff}");
        }
        for logits in left_logits[0].iter().chain(&right_logits[0]) {
            assert!(logits.iter().all(|x| x.is_finite()), "{family:?}: padding logits must stay finite");
        }
    }
}

#[test]
fn cache_truncation_restarts_from_prefix() {
    let device = Device::flex();
    let model = test_model(Family::Llama, 14, &device);
    let mut kv_cache = KvCache::new(model.config().num_hidden_layers);
    model.forward_with_cache(int_tensor(&[vec![1, 2, 3, 4]], &device), None, &mut kv_cache, 0).expect("prefill");

    // Continue after the first two tokens with different ones.
    let continued = to_vec3(
        model.forward_with_cache(int_tensor(&[vec![9, 8]], &device), None, &mut kv_cache, 2).expect("continue"),
    );
    let full = to_vec3(model.forward(int_tensor(&[vec![1, 2, 9, 8]], &device), None).expect("forward"));
    assert_eq!(kv_cache.seq_len(), 4);
    for t in 0..2 {
        let diff = max_abs_diff(&continued[0][t], &full[0][t + 2]);
        assert!(diff < LOGIT_TOLERANCE, "position {t}: diff {diff}");
    }

    let beyond = model.forward_with_cache(int_tensor(&[vec![1]], &device), None, &mut kv_cache, 5);
    assert!(beyond.is_err(), "an offset beyond the cache must be rejected");
}

#[test]
fn generation_stops_at_eos() {
    let device = Device::flex();
    let model = test_model(Family::Qwen2, 15, &device);
    let prompts = vec![vec![3, 7, 1], vec![6, 2]];
    let free = generate(&model, &prompts, &SamplingConfig::greedy(6, None), &device).expect("generate");

    // Use the third token of row 0 as EOS: row 0 stops there.
    let eos = free[0].tokens[2];
    let stopped = generate(&model, &prompts, &SamplingConfig::greedy(6, Some(eos)), &device).expect("generate");
    let first_eos = free[0].tokens.iter().position(|&t| t == eos).expect("eos occurs");
    assert_eq!(stopped[0].tokens, free[0].tokens[..=first_eos].to_vec());
    assert_eq!(stopped[0].finish_reason, FinishReason::Eos);
    for (free, stopped) in free.iter().zip(&stopped) {
        let expected_len = free.tokens.iter().position(|&t| t == eos).map_or(6, |i| i + 1);
        assert_eq!(stopped.tokens, free.tokens[..expected_len].to_vec());
    }
}

#[test]
fn sampling_is_deterministic_per_seed() {
    let device = Device::flex();
    let model = test_model(Family::Gemma, 16, &device);
    let prompts = vec![vec![1, 2, 3], vec![4]];
    let config = SamplingConfig { max_new_tokens: 10, temperature: 1.5, top_p: 0.9, eos_token_id: None, seed: 99 };
    let first = generate(&model, &prompts, &config, &device).expect("generate");
    let second = generate(&model, &prompts, &config, &device).expect("generate");
    assert_eq!(first, second);

    let other_seed = SamplingConfig { seed: 100, ..config };
    let third = generate(&model, &prompts, &other_seed, &device).expect("generate");
    assert_ne!(first, third, "a different seed should change some of 20 sampled tokens");
}

#[test]
fn generate_rejects_bad_requests() {
    let device = Device::flex();
    let model = test_model(Family::Llama, 17, &device);
    let empty_prompt = generate(&model, &[vec![]], &SamplingConfig::greedy(2, None), &device);
    assert!(empty_prompt.is_err());

    let too_long = generate(&model, &[vec![1; 60]], &SamplingConfig::greedy(10, None), &device);
    assert!(too_long.is_err());

    let bad_top_p = SamplingConfig { top_p: 0.0, ..SamplingConfig::greedy(2, None) };
    assert!(generate(&model, &[vec![1]], &bad_top_p, &device).is_err());

    let out_of_vocab = model.forward(int_tensor(&[vec![1, 32]], &device), None);
    assert!(out_of_vocab.is_err(), "token id 32 is outside a vocabulary of 32");
}

#[test]
fn model_and_cache_cross_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>() {}
    // Parallel rollouts share one model and move a cache into each worker.
    assert_send_sync::<Transformer>();
    assert_send::<KvCache>();
}

#[test]
fn generated_log_probs_match_teacher_forcing() {
    let device = Device::flex();
    let model = test_model(Family::Llama, 18, &device);
    let prompt = vec![5u32, 1, 9];
    let config = SamplingConfig { max_new_tokens: 6, temperature: 1.0, top_p: 0.8, eos_token_id: None, seed: 4 };
    let generation = generate(&model, std::slice::from_ref(&prompt), &config, &device).expect("generate").remove(0);
    assert_eq!(generation.log_probs.len(), generation.tokens.len());

    // Score prompt + continuation in one forward pass: position t predicts token t + 1.
    let sequence: Vec<i64> = prompt.iter().chain(&generation.tokens).map(|&id| id as i64).collect();
    let inputs = sequence[..sequence.len() - 1].to_vec();
    let targets = sequence[1..].to_vec();
    let logits = model.forward(int_tensor(&[inputs], &device), None).expect("forward");
    let scored = token_log_probs(logits, int_tensor(&[targets], &device))
        .expect("log probs")
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("float data");

    for (i, &log_prob) in generation.log_probs.iter().enumerate() {
        let expected = scored[prompt.len() - 1 + i];
        assert!((log_prob - expected).abs() < 1e-4, "token {i}: sampled {log_prob}, scored {expected}");
        assert!(log_prob <= 0.0, "token {i}: log-probability {log_prob} above 0");
    }
}
