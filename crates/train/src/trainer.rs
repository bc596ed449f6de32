//! The supervised training loop: masked next-token loss, gradient
//! accumulation, global-norm clipping, AdamW, periodic validation and
//! checkpoints, and exact resume.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::prelude::*;
use selfcorrect_data::{Batch, EncodedExample, Record, SpecialTokens, Tokenizer, encode_record, read_records};
use selfcorrect_model::{SamplingConfig, Transformer, clip_grad_norm, masked_cross_entropy};
use selfcorrect_tasks::task_by_name;
use serde::{Deserialize, Serialize};

use crate::adamw::AdamW;
use crate::batches::ExampleOrder;
use crate::checkpoint::{
    OPTIMIZER_FILE, STATE_FILE, TOKENIZER_FILE, TRAIN_CONFIG_FILE, TrainerState, checkpoint_dir, list_checkpoints,
    read_json, write_checkpoint, write_json,
};
use crate::config::ResolvedTrainConfig;
use crate::error::{Result, TrainError, io_error};
use crate::retention::steps_to_delete;
use crate::rollout::{RolloutRequest, run_rollouts};

/// Validation examples scored for the validation loss, at most.
const VALIDATION_LOSS_EXAMPLES: usize = 256;

/// One line of `metrics.jsonl`, also shown as a progress line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsRecord {
    pub step: u64,
    /// Mean loss per loss token over the steps since the last record.
    pub loss: f64,
    pub learning_rate: f64,
    pub grad_norm: f64,
    /// Real (non-padding) tokens per second over the steps since the last record.
    pub tokens_per_second: f64,
    pub elapsed_seconds: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_loss: Option<f64>,
    /// Greedy exact-answer accuracy on held-out problems.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_accuracy: Option<f64>,
}

impl MetricsRecord {
    /// `step 120/5000 | loss 1.2340 | lr 3.0e-4 | grad norm 0.81 | 41.0k tok/s`, with validation
    /// numbers when present.
    pub fn progress_line(&self, total_steps: u64) -> String {
        let mut line = format!(
            "step {}/{} | loss {:.4} | lr {:.1e} | grad norm {:.2} | {:.1}k tok/s",
            self.step,
            total_steps,
            self.loss,
            self.learning_rate,
            self.grad_norm,
            self.tokens_per_second / 1000.0
        );
        if let Some(loss) = self.validation_loss {
            line.push_str(&format!(" | val loss {loss:.4}"));
        }
        if let Some(accuracy) = self.validation_accuracy {
            line.push_str(&format!(" | val acc {accuracy:.3}"));
        }
        line
    }
}

/// The outputs of a finished run.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    pub checkpoint: PathBuf,
    pub steps: u64,
    pub metrics: Vec<MetricsRecord>,
    /// Step the run resumed from, if it found a checkpoint.
    pub resumed_from: Option<u64>,
}

/// Loaded inputs of a run.
struct RunData {
    tokenizer: Tokenizer,
    train: Vec<EncodedExample>,
    validation_records: Vec<Record>,
    validation: Vec<EncodedExample>,
}

/// Trains as configured, resuming from the newest checkpoint in `out_dir`
/// when there is one. `on_metrics` sees every metrics record as it is made.
pub fn train(
    config: &ResolvedTrainConfig,
    device: &Device,
    on_metrics: &mut dyn FnMut(&MetricsRecord),
) -> Result<TrainOutcome> {
    let file = &config.file;
    let out_dir = file.run.out_dir.clone();
    fs::create_dir_all(&out_dir).map_err(io_error(&out_dir))?;
    let autodiff = device.clone().autodiff();

    // Resume from the newest complete checkpoint, if the run is the same run.
    let resume = list_checkpoints(&out_dir)?.last().copied();
    if let Some(step) = resume {
        let saved: ResolvedTrainConfig = read_json(&checkpoint_dir(&out_dir, step).join(TRAIN_CONFIG_FILE))?;
        if saved.file != config.file {
            return Err(TrainError::InvalidConfig {
                field: "run.out_dir".into(),
                value: out_dir.display().to_string(),
                allowed: "a new folder: it holds checkpoints of a run with a different config".into(),
            });
        }
    }

    let data = load_data(config, resume.map(|step| checkpoint_dir(&out_dir, step)).as_deref())?;
    let (mut model, mut optimizer, mut state) = match resume {
        Some(step) => restore(config, &checkpoint_dir(&out_dir, step), &data.tokenizer, &autodiff)?,
        None => fresh_start(config, &data.tokenizer, &autodiff)?,
    };
    write_json(&out_dir.join(TRAIN_CONFIG_FILE), config)?;
    data.tokenizer.save(&out_dir.join(TOKENIZER_FILE))?;

    let metrics_path = out_dir.join("metrics.jsonl");
    let mut metrics = truncate_metrics(&metrics_path, state.step)?;
    let mut metrics_file =
        fs::OpenOptions::new().create(true).append(true).open(&metrics_path).map_err(io_error(&metrics_path))?;

    let o = &file.optim;
    let mut order = ExampleOrder::new(file.run.seed, data.train.len());
    let pad_id = data.tokenizer.pad_id();
    let started = Instant::now();
    let (mut interval_loss, mut interval_tokens, mut interval_real_tokens) = (0.0f64, 0u64, 0u64);
    let mut interval_start = Instant::now();
    let mut last_checkpoint = resume.map(|step| checkpoint_dir(&out_dir, step));

    while state.step < o.steps {
        let step = state.step;
        let lr = config.schedule.learning_rate(step);

        // Micro-batches of this step, and the loss-token count they share as a divisor.
        let batches: Vec<Batch> = (0..o.accumulation)
            .map(|micro| {
                let indices = order.micro_batch(step, micro, o.accumulation, o.batch_size);
                let examples: Vec<EncodedExample> = indices.iter().map(|&i| data.train[i].clone()).collect();
                Batch::new(&examples, pad_id, Some(file.data.max_seq_len))
            })
            .collect::<std::result::Result<_, _>>()?;
        let step_tokens: usize =
            batches.iter().map(|b| b.loss_mask.iter().map(|&m| usize::from(m)).sum::<usize>()).sum();

        // Each micro-batch's loss is its summed token loss over the step's total
        // loss-token count, so the accumulated gradient is that of the mean over
        // every loss token of the step, however the tokens fall into micro-batches.
        let mut accumulator = GradientsAccumulator::<Transformer>::new();
        let mut step_loss_sum = 0.0;
        for batch in &batches {
            let tensors = BatchTensors::new(batch, &autodiff);
            let logits = model.forward(tensors.input_ids, Some(tensors.attention_mask))?;
            let loss = masked_cross_entropy(logits, tensors.targets, tensors.loss_mask)?;
            let scaled = loss.normalized(step_tokens);
            step_loss_sum += loss.sum.clone().into_scalar::<f64>();
            let grads = GradientsParams::from_grads(scaled.backward(), &model);
            accumulator.accumulate(&model, grads);
            interval_real_tokens += batch.attention_mask.iter().map(|&m| u64::from(m)).sum::<u64>();
        }
        let step_loss = step_loss_sum / step_tokens.max(1) as f64;
        if !step_loss.is_finite() {
            return Err(TrainError::NonFiniteLoss { step, loss: step_loss });
        }

        let (grads, norm) = match clip_grad_norm(&model, accumulator.grads(), o.grad_clip) {
            Ok(clipped) => clipped,
            Err(selfcorrect_model::ModelError::NonFiniteGradNorm { norm }) => {
                return Err(TrainError::NonFiniteLoss { step, loss: norm });
            }
            Err(other) => return Err(other.into()),
        };
        let grad_norm = norm;
        model = optimizer.step(model, &grads, lr);

        state.step += 1;
        state.tokens += step_tokens as u64;
        interval_loss += step_loss_sum;
        interval_tokens += step_tokens as u64;

        let done = state.step == o.steps;
        let validate_now = done || (file.run.eval_every > 0 && state.step % file.run.eval_every == 0);
        if state.step % file.run.log_every == 0 || validate_now {
            let seconds = interval_start.elapsed().as_secs_f64();
            let mut record = MetricsRecord {
                step: state.step,
                loss: interval_loss / interval_tokens.max(1) as f64,
                learning_rate: lr,
                grad_norm,
                tokens_per_second: interval_real_tokens as f64 / seconds.max(1e-9),
                elapsed_seconds: started.elapsed().as_secs_f64(),
                validation_loss: None,
                validation_accuracy: None,
            };
            if validate_now {
                let plain = model.valid();
                record.validation_loss = validation_loss(&plain, &data, config, device)?;
                record.validation_accuracy = validation_accuracy(&plain, &data, config, device)?;
            }
            state.last_loss = Some(record.loss);
            let line = serde_json::to_string(&record)
                .map_err(|err| TrainError::InvalidCheckpoint { path: metrics_path.clone(), reason: err.to_string() })?;
            writeln!(metrics_file, "{line}").map_err(io_error(&metrics_path))?;
            on_metrics(&record);
            metrics.push(record);
            (interval_loss, interval_tokens, interval_real_tokens) = (0.0, 0, 0);
            interval_start = Instant::now();
        }

        if done || state.step % file.run.checkpoint_every.max(1) == 0 {
            let path = save_checkpoint(&out_dir, &model, &optimizer, &state, config, &data.tokenizer)?;
            last_checkpoint = Some(path);
        }
    }

    let checkpoint = match last_checkpoint {
        Some(path) => path,
        None => save_checkpoint(&out_dir, &model, &optimizer, &state, config, &data.tokenizer)?,
    };
    Ok(TrainOutcome { checkpoint, steps: state.step, metrics, resumed_from: resume })
}

fn save_checkpoint(
    out_dir: &Path,
    model: &Transformer,
    optimizer: &AdamW,
    state: &TrainerState,
    config: &ResolvedTrainConfig,
    tokenizer: &Tokenizer,
) -> Result<PathBuf> {
    let path = write_checkpoint(out_dir, state.step, |dir| {
        selfcorrect_model::checkpoint::save(model, dir)?;
        tokenizer.save(&dir.join(TOKENIZER_FILE))?;
        write_json(&dir.join(TRAIN_CONFIG_FILE), config)?;
        optimizer.save(&dir.join(OPTIMIZER_FILE))?;
        write_json(&dir.join(STATE_FILE), state)
    })?;
    for step in steps_to_delete(&list_checkpoints(out_dir)?, config.file.run.keep_last) {
        let old = checkpoint_dir(out_dir, step);
        fs::remove_dir_all(&old).map_err(io_error(&old))?;
    }
    Ok(path)
}

fn fresh_start(
    config: &ResolvedTrainConfig,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<(Transformer, AdamW, TrainerState)> {
    let file = &config.file;
    let model = match &file.model.init_from {
        Some(dir) => {
            let model = selfcorrect_model::checkpoint::load(dir, device)?;
            check_vocabulary(&model, tokenizer, dir)?;
            model
        }
        None => {
            let (Some(family), Some(preset)) = (config.family, config.preset) else {
                return Err(TrainError::InvalidConfig {
                    field: "model".into(),
                    value: "unresolved".into(),
                    allowed: "a config passed through TrainConfig::validate".into(),
                });
            };
            let model_config = file.model.resolve(family, preset, tokenizer.vocab_size())?;
            Transformer::init(&model_config, file.run.seed, device)
        }
    };
    let state = TrainerState { step: 0, seed: file.run.seed, tokens: 0, last_loss: None };
    Ok((model, AdamW::new(config.adamw), state))
}

fn restore(
    config: &ResolvedTrainConfig,
    dir: &Path,
    tokenizer: &Tokenizer,
    device: &Device,
) -> Result<(Transformer, AdamW, TrainerState)> {
    let model = selfcorrect_model::checkpoint::load(dir, device)?;
    check_vocabulary(&model, tokenizer, dir)?;
    let state: TrainerState = read_json(&dir.join(STATE_FILE))?;
    let optimizer = AdamW::load(config.adamw, state.step, &dir.join(OPTIMIZER_FILE), device)?;
    Ok((model, optimizer, state))
}

fn check_vocabulary(model: &Transformer, tokenizer: &Tokenizer, dir: &Path) -> Result<()> {
    let expected = model.config().vocab_size;
    if tokenizer.vocab_size() != expected {
        return Err(TrainError::VocabularyMismatch {
            path: dir.to_path_buf(),
            expected,
            found: tokenizer.vocab_size(),
        });
    }
    Ok(())
}

/// Reads the records and picks the tokenizer: the checkpoint's when resuming
/// or fine-tuning, else the configured file, else a character-level one built
/// from the records.
fn load_data(config: &ResolvedTrainConfig, resume_dir: Option<&Path>) -> Result<RunData> {
    let file = &config.file;
    let train_records = read_records(&file.data.train)?;
    let validation_records = match &file.data.validation {
        Some(path) => read_records(path)?,
        None => Vec::new(),
    };
    let special = SpecialTokens::default();
    let model_dir = resume_dir.or(file.model.init_from.as_deref());
    let tokenizer = match (model_dir, &file.data.tokenizer) {
        (Some(dir), _) => {
            // The tokenizer must be the model's before any record is encoded with it.
            let path = dir.join(TOKENIZER_FILE);
            let tokenizer = Tokenizer::from_file(&path, &special)?;
            let expected = selfcorrect_model::checkpoint::load_config(dir)?.vocab_size;
            if tokenizer.vocab_size() != expected {
                return Err(TrainError::VocabularyMismatch { path, expected, found: tokenizer.vocab_size() });
            }
            tokenizer
        }
        (None, Some(path)) => Tokenizer::from_file(path, &special)?,
        (None, None) => {
            let all: Vec<Record> = train_records.iter().chain(&validation_records).cloned().collect();
            Tokenizer::char_level_for_records(&all, &file.run.recognition, &special)?
        }
    };
    let encode = |records: &[Record]| -> Result<Vec<EncodedExample>> {
        records.iter().map(|record| encode_record(record, &tokenizer).map_err(TrainError::from)).collect()
    };
    let train = encode(&train_records)?;
    if train.is_empty() {
        return Err(TrainError::InvalidConfig {
            field: "data.train".into(),
            value: file.data.train.display().to_string(),
            allowed: "a file with at least one record".into(),
        });
    }
    let validation = encode(&validation_records)?;
    Ok(RunData { tokenizer, train, validation_records, validation })
}

/// Rewrites `metrics.jsonl` without records past `step` (left by an
/// interrupted run), returning the kept records.
fn truncate_metrics(path: &Path, step: u64) -> Result<Vec<MetricsRecord>> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let text = fs::read_to_string(path).map_err(io_error(path))?;
    let kept: Vec<MetricsRecord> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<MetricsRecord>(line).ok())
        .filter(|record| record.step <= step)
        .collect();
    let mut out = String::new();
    for record in &kept {
        out.push_str(&serde_json::to_string(record).unwrap_or_default());
        out.push('\n');
    }
    let temporary = path.with_extension("jsonl.tmp");
    fs::write(&temporary, out).map_err(io_error(&temporary))?;
    fs::rename(&temporary, path).map_err(io_error(path))?;
    Ok(kept)
}

fn validation_loss(
    model: &Transformer,
    data: &RunData,
    config: &ResolvedTrainConfig,
    device: &Device,
) -> Result<Option<f64>> {
    if data.validation.is_empty() {
        return Ok(None);
    }
    let examples = &data.validation[..data.validation.len().min(VALIDATION_LOSS_EXAMPLES)];
    let (mut sum, mut count) = (0.0, 0usize);
    for chunk in examples.chunks(config.file.optim.batch_size) {
        let batch = Batch::new(chunk, data.tokenizer.pad_id(), Some(config.file.data.max_seq_len))?;
        let tensors = BatchTensors::new(&batch, device);
        let logits = model.forward(tensors.input_ids, Some(tensors.attention_mask))?;
        let loss = masked_cross_entropy(logits, tensors.targets, tensors.loss_mask)?;
        sum += loss.sum.into_scalar::<f64>();
        count += loss.count;
    }
    Ok((count > 0).then(|| sum / count as f64))
}

fn validation_accuracy(
    model: &Transformer,
    data: &RunData,
    config: &ResolvedTrainConfig,
    device: &Device,
) -> Result<Option<f64>> {
    let records = &data.validation_records[..data.validation_records.len().min(config.file.run.eval_problems)];
    if records.is_empty() {
        return Ok(None);
    }
    let mut problems = Vec::with_capacity(records.len());
    for record in records {
        let task = task_by_name(&record.task)?;
        problems.push(task.load(&record.problem)?);
    }
    let requests: Vec<RolloutRequest<'_>> =
        problems.iter().map(|problem| RolloutRequest { problem: problem.as_ref(), prefix: String::new() }).collect();
    let sampling = SamplingConfig::greedy(config.file.run.max_new_tokens, Some(data.tokenizer.eos_id()));
    let rollouts =
        run_rollouts(model, &data.tokenizer, &requests, &sampling, &config.file.run.recognition, 32, device)?;
    let correct = rollouts.iter().filter(|r| r.annotation.score == 1.0).count();
    Ok(Some(correct as f64 / rollouts.len() as f64))
}

/// A [`Batch`] as tensors on a device.
pub(crate) struct BatchTensors {
    pub input_ids: Tensor<2, Int>,
    pub attention_mask: Tensor<2, Int>,
    pub targets: Tensor<2, Int>,
    pub loss_mask: Tensor<2, Int>,
}

impl BatchTensors {
    pub fn new(batch: &Batch, device: &Device) -> Self {
        let shape = [batch.batch_size, batch.seq_len];
        let ints = |values: Vec<i64>| Tensor::<2, Int>::from_data(TensorData::new(values, shape), device);
        BatchTensors {
            input_ids: ints(batch.input_ids.iter().map(|&v| i64::from(v)).collect()),
            attention_mask: ints(batch.attention_mask.iter().map(|&v| i64::from(v)).collect()),
            targets: ints(batch.targets.iter().map(|&v| i64::from(v)).collect()),
            loss_mask: ints(batch.loss_mask.iter().map(|&v| i64::from(v)).collect()),
        }
    }
}
