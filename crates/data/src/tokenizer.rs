//! Tokenizers: a character-level tokenizer built from the characters of a task
//! or a dataset, and any Hugging Face `tokenizer.json` through the `tokenizers` crate.
//!
//! The character-level tokenizer is stored as a Hugging Face `tokenizer.json`
//! (a BPE model with no merges, no normalizer and no pre-tokenizer, which maps
//! each character to its own token), so Python stacks load the same vocabulary.
//! Special tokens (BOS, EOS, PAD) are always looked up by name.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use selfcorrect_tasks::{Rng, Task, item_seed, task_by_name};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::{DataError, Result};
use crate::io::write_atomically;
use crate::record::Record;

/// Names of the special tokens. BOS is optional because not every tokenizer
/// defines a beginning-of-sequence token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecialTokens {
    pub bos: Option<String>,
    pub eos: String,
    pub pad: String,
}

impl Default for SpecialTokens {
    fn default() -> Self {
        Self { bos: Some("<bos>".into()), eos: "<eos>".into(), pad: "<pad>".into() }
    }
}

/// One token of encoded text: its id and the byte range of the text it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: u32,
    pub offsets: Range<usize>,
}

enum Backend {
    /// One token per character.
    Char { ids: HashMap<char, u32>, tokens: Vec<String> },
    HuggingFace {
        inner: Box<tokenizers::Tokenizer>,
        unk_id: Option<u32>,
        /// The characters a BPE model without an unknown token can encode, where
        /// that set is known (see [`bpe_alphabet`]).
        alphabet: Option<HashSet<char>>,
    },
}

/// A tokenizer with its special-token ids resolved.
pub struct Tokenizer {
    backend: Backend,
    special: SpecialTokens,
    bos_id: Option<u32>,
    eos_id: u32,
    pad_id: u32,
    /// The file the tokenizer was loaded from, or "char-level", for error messages.
    source: String,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Char { .. } => "char-level",
            Backend::HuggingFace { .. } => "huggingface",
        };
        f.debug_struct("Tokenizer")
            .field("kind", &kind)
            .field("source", &self.source)
            .field("vocab_size", &self.vocab_size())
            .field("special", &self.special)
            .finish()
    }
}

/// The dataset seed of the problems sampled for a task's alphabet.
const ALPHABET_SEED: u64 = 0;

const CHAR_LEVEL_FIX: &str = "rebuild the character-level tokenizer from data that contains this character \
                              (Tokenizer::char_level_for_task with more samples, or Tokenizer::char_level_for_records \
                              over every split)";
const HUGGINGFACE_FIX: &str = "use a tokenizer whose vocabulary covers this character, or remove it from the data";

impl Tokenizer {
    /// Builds a character-level tokenizer over every character of `texts`.
    /// Special tokens come first, in the order PAD, BOS, EOS, then the
    /// characters in code-point order.
    pub fn char_level<'a>(texts: impl IntoIterator<Item = &'a str>, special: &SpecialTokens) -> Result<Self> {
        let alphabet: BTreeSet<char> = texts.into_iter().flat_map(str::chars).collect();
        let mut tokens: Vec<String> = Vec::new();
        let names = [Some(&special.pad), special.bos.as_ref(), Some(&special.eos)];
        for name in names.into_iter().flatten() {
            if !tokens.contains(name) {
                tokens.push(name.clone());
            }
        }
        for character in alphabet {
            let text = character.to_string();
            if tokens.contains(&text) {
                return Err(DataError::Tokenizer {
                    path: "char-level".into(),
                    reason: format!("special token name {text:?} is also a character of the data; rename it"),
                });
            }
            tokens.push(text);
        }
        Self::from_char_tokens(tokens, special, "char-level".into())
    }

    /// Builds a character-level tokenizer over the texts of `records`, the
    /// recognition phrase, and the alphabet of every task the records name
    /// (see [`Tokenizer::char_level_for_task`]). A model trained on clean
    /// traces can then be fine-tuned on traces with injected errors, whose
    /// wrong steps may use characters that no clean trace has (a Sudoku cell
    /// reference outside the grid, for one).
    pub fn char_level_for_records(records: &[Record], recognition: &str, special: &SpecialTokens) -> Result<Self> {
        let mut texts: Vec<String> =
            records.iter().flat_map(|record| record.segments.iter().map(|segment| segment.text.clone())).collect();
        let mut names: Vec<&str> = records.iter().map(|record| record.task.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            let task = task_by_name(name)?;
            texts.extend(task_alphabet(task.as_ref(), recognition, RECORD_ALPHABET_SAMPLES)?);
        }
        Self::char_level(texts.iter().map(String::as_str).chain([recognition, "\n"]), special)
    }

    /// Builds a character-level tokenizer over a task's alphabet, independent
    /// of any one dataset. The alphabet is every character of the prompts and
    /// golden steps of `samples` problems, of a wrong step of every synthetic
    /// kind at every step of those problems, of the recognition phrase, and the
    /// ten decimal digits.
    ///
    /// NOTE: the alphabet is sampled, so a character that only rare problems
    /// produce can be missing; encoding then fails with an error naming it.
    pub fn char_level_for_task(
        task: &dyn Task,
        recognition: &str,
        special: &SpecialTokens,
        samples: u64,
    ) -> Result<Self> {
        let texts = task_alphabet(task, recognition, samples)?;
        Self::char_level(texts.iter().map(String::as_str), special)
    }

    fn from_char_tokens(tokens: Vec<String>, special: &SpecialTokens, source: String) -> Result<Self> {
        let lookup: HashMap<&str, u32> =
            tokens.iter().enumerate().map(|(id, token)| (token.as_str(), id as u32)).collect();
        let (bos_id, eos_id, pad_id) = resolve_special(special, |name| lookup.get(name).copied())?;
        let ids = tokens
            .iter()
            .enumerate()
            .filter_map(|(id, token)| {
                let mut chars = token.chars();
                match (chars.next(), chars.next()) {
                    (Some(character), None) if !is_special(special, token) => Some((character, id as u32)),
                    _ => None,
                }
            })
            .collect();
        Ok(Self { backend: Backend::Char { ids, tokens }, special: special.clone(), bos_id, eos_id, pad_id, source })
    }

    /// Loads a `tokenizer.json`. A file in the character-level form that
    /// [`Tokenizer::save`] writes is encoded natively; any other goes through
    /// the `tokenizers` crate.
    pub fn from_file(path: &Path, special: &SpecialTokens) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| DataError::io(path, err))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|err| DataError::Json { path: path.to_path_buf(), source: err })?;
        match char_level_tokens(&json, special) {
            Some(tokens) => Self::from_char_tokens(tokens, special, path.display().to_string()),
            None => Self::huggingface_from_json(&text, &json, special, path.display().to_string()),
        }
    }

    /// Loads a `tokenizer.json` through the `tokenizers` crate, whatever its form.
    pub fn from_file_huggingface(path: &Path, special: &SpecialTokens) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|err| DataError::io(path, err))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|err| DataError::Json { path: path.to_path_buf(), source: err })?;
        Self::huggingface_from_json(&text, &json, special, path.display().to_string())
    }

    fn huggingface_from_json(text: &str, json: &Value, special: &SpecialTokens, source: String) -> Result<Self> {
        let inner: tokenizers::Tokenizer = text
            .parse()
            .map_err(|err| DataError::Tokenizer { path: source.clone(), reason: format!("failed to load: {err}") })?;
        let (bos_id, eos_id, pad_id) = resolve_special(special, |name| inner.token_to_id(name))?;

        // The unknown token, where the model has one: BPE, WordPiece and
        // WordLevel name it, Unigram gives its index in the vocabulary.
        let model = &json["model"];
        let unk_id = match (&model["unk_token"], &model["unk_id"]) {
            (Value::String(name), _) => inner.token_to_id(name),
            (_, Value::Number(index)) => index.as_u64().map(|index| index as u32),
            _ => None,
        };
        Ok(Self {
            backend: Backend::HuggingFace { inner: Box::new(inner), unk_id, alphabet: bpe_alphabet(json) },
            special: special.clone(),
            bos_id,
            eos_id,
            pad_id,
            source,
        })
    }

    /// Writes the tokenizer as a Hugging Face `tokenizer.json`.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = match &self.backend {
            Backend::Char { tokens, .. } => serde_json::to_string_pretty(&char_level_json(tokens, &self.special))
                .map_err(|err| DataError::Tokenizer { path: path.display().to_string(), reason: err.to_string() })?,
            Backend::HuggingFace { inner, .. } => inner
                .to_string(true)
                .map_err(|err| DataError::Tokenizer { path: path.display().to_string(), reason: err.to_string() })?,
        };
        write_atomically(path, |writer| std::io::Write::write_all(writer, text.as_bytes()))
    }

    pub fn token_id(&self, name: &str) -> Option<u32> {
        match &self.backend {
            Backend::Char { tokens, .. } => tokens.iter().position(|token| token == name).map(|id| id as u32),
            Backend::HuggingFace { inner, .. } => inner.token_to_id(name),
        }
    }

    pub fn vocab_size(&self) -> usize {
        match &self.backend {
            Backend::Char { tokens, .. } => tokens.len(),
            Backend::HuggingFace { inner, .. } => inner.get_vocab_size(true),
        }
    }

    pub fn bos_id(&self) -> Option<u32> {
        self.bos_id
    }

    pub fn eos_id(&self) -> u32 {
        self.eos_id
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn is_char_level(&self) -> bool {
        matches!(self.backend, Backend::Char { .. })
    }

    /// Turns ids back into text, leaving out the special tokens (BOS, EOS, PAD).
    /// An id outside the vocabulary is an error, so model output from a model
    /// with another vocabulary is reported instead of decoded wrongly.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let special = [self.bos_id, Some(self.eos_id), Some(self.pad_id)];
        let outside = |id: u32| DataError::Tokenizer {
            path: self.source.clone(),
            reason: format!(
                "id {id} is outside the vocabulary of {} tokens; decode with the tokenizer saved with the model",
                self.vocab_size()
            ),
        };
        match &self.backend {
            Backend::Char { tokens, .. } => {
                let mut text = String::new();
                for &id in ids {
                    if special.contains(&Some(id)) {
                        continue;
                    }
                    text.push_str(tokens.get(id as usize).ok_or_else(|| outside(id))?);
                }
                Ok(text)
            }
            Backend::HuggingFace { inner, .. } => {
                if let Some(&id) = ids.iter().find(|&&id| id as usize >= self.vocab_size()) {
                    return Err(outside(id));
                }
                inner.decode(ids, true).map_err(|err| DataError::Tokenizer {
                    path: self.source.clone(),
                    reason: format!("cannot decode ids: {err}"),
                })
            }
        }
    }

    /// Encodes text without special tokens. `context` names the text (a
    /// record id) in errors. Every character must map to a token other than
    /// the unknown token; otherwise the error names the character and the fix.
    pub fn encode(&self, text: &str, context: &str) -> Result<Vec<Token>> {
        match &self.backend {
            Backend::Char { ids, .. } => {
                if let Some(name) = special_names(&self.special).find(|name| text.contains(*name)) {
                    // The Hugging Face form matches special tokens inside text, so
                    // the two would encode such text differently.
                    return Err(DataError::Tokenizer {
                        path: self.source.clone(),
                        reason: format!("record {context} contains the special token {name:?} as text"),
                    });
                }
                text.char_indices()
                    .map(|(offset, character)| match ids.get(&character) {
                        Some(&id) => Ok(Token { id, offsets: offset..offset + character.len_utf8() }),
                        None => Err(unknown_character(character, offset, context, CHAR_LEVEL_FIX)),
                    })
                    .collect()
            }
            Backend::HuggingFace { inner, unk_id, alphabet } => {
                if let Some(alphabet) = alphabet
                    && let Some((offset, character)) =
                        text.char_indices().find(|(_, character)| !alphabet.contains(character))
                {
                    return Err(unknown_character(character, offset, context, HUGGINGFACE_FIX));
                }
                let encoding = inner.encode(text, false).map_err(|err| DataError::Tokenizer {
                    path: self.source.clone(),
                    reason: format!("failed to encode record {context}: {err}"),
                })?;
                let tokens: Vec<Token> = encoding
                    .get_ids()
                    .iter()
                    .zip(encoding.get_offsets())
                    .map(|(&id, &(start, end))| Token { id, offsets: start..end })
                    .collect();
                check_coverage(text, &tokens, *unk_id, context)?;
                Ok(tokens)
            }
        }
    }
}

/// Collects the characters a BPE model can encode when it has no unknown token, no
/// byte fallback, no normalizer and no byte-level pre-tokenizer. Such a model
/// drops characters outside its vocabulary without a trace, and the offsets of
/// the tokens after a dropped character shift, so the coverage check cannot be
/// relied on to notice.
/// Problems sampled per task when [`Tokenizer::char_level_for_records`] adds a
/// task's alphabet to the characters of the records.
const RECORD_ALPHABET_SAMPLES: u64 = 32;

/// Texts that together hold a task's alphabet: the recognition phrase, the ten
/// digits, and the prompts, golden steps and synthetic wrong steps of `samples`
/// problems.
fn task_alphabet(task: &dyn Task, recognition: &str, samples: u64) -> Result<Vec<String>> {
    let mut texts: Vec<String> = vec![recognition.to_string(), "\n0123456789".to_string()];
    let mut rng = Rng::new(item_seed(&format!("{}/alphabet", task.name()), 0, 0));
    for index in 0..samples {
        let problem = task.generate(ALPHABET_SEED, index)?;
        let golden = problem.golden_steps();
        texts.push(problem.prompt());
        for position in 0..golden.len() {
            for kind in task.error_kinds().iter().filter(|kind| kind.synthetic) {
                texts.extend(problem.corrupt_step(position, kind.name, &mut rng));
            }
        }
        texts.extend(golden);
    }
    Ok(texts)
}

fn bpe_alphabet(json: &Value) -> Option<HashSet<char>> {
    let model = &json["model"];
    let byte_level = json["pre_tokenizer"].to_string().contains("ByteLevel");
    let plain = model["type"] == "BPE"
        && model["unk_token"].is_null()
        && model["byte_fallback"] != true
        && json["normalizer"].is_null()
        && !byte_level;
    if !plain {
        return None;
    }
    let prefix = model["continuing_subword_prefix"].as_str().unwrap_or("");
    let alphabet = model["vocab"]
        .as_object()?
        .keys()
        .filter_map(|token| {
            let token = token.strip_prefix(prefix).filter(|rest| !rest.is_empty()).unwrap_or(token);
            let mut chars = token.chars();
            match (chars.next(), chars.next()) {
                (Some(character), None) => Some(character),
                _ => None,
            }
        })
        .collect();
    Some(alphabet)
}

/// Rejects text with a character that no token covers (a BPE model without an
/// unknown token drops such characters silently) or that maps to the unknown token.
fn check_coverage(text: &str, tokens: &[Token], unk_id: Option<u32>, context: &str) -> Result<()> {
    let mut covered = vec![false; text.len()];
    for token in tokens {
        let range = token.offsets.start.min(text.len())..token.offsets.end.min(text.len());
        if Some(token.id) == unk_id
            && let Some((offset, character)) = text[range.clone()].char_indices().next()
        {
            return Err(unknown_character(character, range.start + offset, context, HUGGINGFACE_FIX));
        }
        covered[range].fill(true);
    }
    // Whitespace may be left out of every token by normalizers and pre-tokenizers that strip it.
    for (offset, character) in text.char_indices() {
        if !covered[offset] && !character.is_whitespace() {
            return Err(unknown_character(character, offset, context, HUGGINGFACE_FIX));
        }
    }
    Ok(())
}

fn unknown_character(character: char, offset: usize, record: &str, fix: &str) -> DataError {
    DataError::UnknownCharacter {
        character,
        code: character as u32,
        offset,
        record: record.to_string(),
        fix: fix.to_string(),
    }
}

fn special_names(special: &SpecialTokens) -> impl Iterator<Item = &str> {
    [special.bos.as_deref(), Some(special.eos.as_str()), Some(special.pad.as_str())].into_iter().flatten()
}

fn is_special(special: &SpecialTokens, token: &str) -> bool {
    special_names(special).any(|name| name == token)
}

/// Looks the special tokens up by name.
fn resolve_special(special: &SpecialTokens, lookup: impl Fn(&str) -> Option<u32>) -> Result<(Option<u32>, u32, u32)> {
    let find = |role: &'static str, name: &str| {
        lookup(name).ok_or_else(|| DataError::MissingSpecialToken {
            role,
            name: name.to_string(),
            fix: format!("set the {role} token name to one the tokenizer defines"),
        })
    };
    let bos = special.bos.as_deref().map(|name| find("bos", name)).transpose()?;
    Ok((bos, find("eos", &special.eos)?, find("pad", &special.pad)?))
}

/// Renders a character-level vocabulary in the Hugging Face `tokenizer.json` form.
fn char_level_json(tokens: &[String], special: &SpecialTokens) -> Value {
    let vocab: serde_json::Map<String, Value> =
        tokens.iter().enumerate().map(|(id, token)| (token.clone(), json!(id))).collect();
    let added_tokens: Vec<Value> = tokens
        .iter()
        .enumerate()
        .filter(|(_, token)| is_special(special, token))
        .map(|(id, token)| {
            json!({"id": id, "content": token, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added_tokens,
        "normalizer": null,
        "pre_tokenizer": null,
        "post_processor": null,
        "decoder": {"type": "Fuse"},
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": null,
            "end_of_word_suffix": null,
            "fuse_unk": false,
            "byte_fallback": false,
            "ignore_merges": false,
            "vocab": vocab,
            "merges": []
        }
    })
}

/// Returns the tokens in id order when `json` is a character-level tokenizer: a BPE
/// model with no merges and no text transformations, whose non-special
/// tokens are single characters with ids 0..n.
fn char_level_tokens(json: &Value, special: &SpecialTokens) -> Option<Vec<String>> {
    let model = &json["model"];
    let plain = model["type"] == "BPE"
        && model["merges"].as_array().is_some_and(Vec::is_empty)
        && json["normalizer"].is_null()
        && json["pre_tokenizer"].is_null()
        && json["post_processor"].is_null()
        && model["continuing_subword_prefix"].is_null()
        && model["end_of_word_suffix"].is_null()
        && model["byte_fallback"] != true;
    if !plain {
        return None;
    }
    let vocab = model["vocab"].as_object()?;
    // Added tokens are matched inside text before the model runs, so any
    // besides the named special tokens would change the encoding.
    let added_are_special = json["added_tokens"].as_array().is_none_or(|added| {
        added.iter().all(|token| {
            token["content"].as_str().is_some_and(|content| is_special(special, content) && vocab.contains_key(content))
        })
    });
    if !added_are_special {
        return None;
    }
    let mut tokens = vec![None; vocab.len()];
    for (token, id) in vocab {
        let id = id.as_u64()? as usize;
        if token.chars().count() != 1 && !is_special(special, token) {
            return None;
        }
        *tokens.get_mut(id)? = Some(token.clone());
    }
    tokens.into_iter().collect()
}
