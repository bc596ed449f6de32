//! Rollouts: prompts (and optional forced prefixes) tokenized, continued by the
//! model in batches with a KV cache, decoded and verified by the task.

use burn::prelude::*;
use selfcorrect_data::Tokenizer;
use selfcorrect_model::{FinishReason, SamplingConfig, Transformer, generate};
use selfcorrect_tasks::{Annotation, Problem};

use crate::error::{Result, TrainError};

/// One rollout to make: the problem, and text the model must continue from
/// after the prompt (empty for a free rollout).
pub struct RolloutRequest<'a> {
    pub problem: &'a dyn Problem,
    pub prefix: String,
}

/// The model's continuation and its annotation. `output` is the prefix
/// followed by the generated text, which is what is verified.
#[derive(Debug, Clone)]
pub struct Rollout {
    pub output: String,
    pub generated_tokens: usize,
    pub cut_off: bool,
    pub annotation: Annotation,
}

/// Makes the rollouts `batch_size` at a time.
pub fn run_rollouts(
    model: &Transformer,
    tokenizer: &Tokenizer,
    requests: &[RolloutRequest<'_>],
    sampling: &SamplingConfig,
    recognition: &str,
    batch_size: usize,
    device: &Device,
) -> Result<Vec<Rollout>> {
    let mut rollouts = Vec::with_capacity(requests.len());
    for (chunk_index, chunk) in requests.chunks(batch_size.max(1)).enumerate() {
        let mut prompts = Vec::with_capacity(chunk.len());
        for request in chunk {
            let text = format!("{}{}", request.problem.prompt(), request.prefix);
            let mut ids: Vec<u32> = tokenizer.bos_id().into_iter().collect();
            let tokens = tokenizer.encode(&text, "rollout prompt").map_err(|err| TrainError::InvalidConfig {
                field: "model".into(),
                value: format!("a tokenizer that cannot encode this prompt ({err})"),
                allowed: "a model trained on this task, whose vocabulary covers its prompts".into(),
            })?;
            ids.extend(tokens.into_iter().map(|token| token.id));
            prompts.push(ids);
        }
        // Each chunk samples from its own stream, so results do not depend on
        // how many chunks came before when the batch size changes.
        let chunk_sampling =
            SamplingConfig { seed: sampling.seed ^ (chunk_index as u64).wrapping_mul(0x9e37_79b9), ..sampling.clone() };
        let generations = generate(model, &prompts, &chunk_sampling, device)?;
        for (request, generation) in chunk.iter().zip(generations) {
            let mut tokens = generation.tokens;
            if generation.finish_reason == FinishReason::Eos {
                tokens.pop();
            }
            let generated = tokenizer.decode(&tokens)?;
            let output = format!("{}{generated}", request.prefix);
            let annotation = request.problem.annotate(&output, recognition);
            rollouts.push(Rollout {
                output,
                generated_tokens: tokens.len(),
                cut_off: generation.finish_reason == FinishReason::MaxNewTokens,
                annotation,
            });
        }
    }
    Ok(rollouts)
}
