//! Tokenizers and span-to-token loss masks on real datasets: the
//! character-level tokenizer against its Hugging Face form, a BPE tokenizer
//! whose tokens cross segment edges, one-character spans, and batches.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;

use common::{build_and_read, resolve};
use selfcorrect_data::{
    Batch, DataError, EncodedExample, IGNORE_INDEX, Meta, Record, Role, Segment, SpecialTokens, Tokenizer,
    encode_record, token_loss_flags,
};
use serde_json::json;

const DATASET: &str = r#"
task = "mult-3x3"
seed = 8
[splits]
train = 120
validation = 20
test = 20
[eift]
injected_fraction = 0.6
"#;

fn dataset(task: &str) -> Vec<Record> {
    let dir = tempfile::tempdir().unwrap();
    build_and_read(&resolve(DATASET, &[&format!("task={task}")]), dir.path())
}

/// Maps every byte of a record's text to the index of its segment.
fn segment_of_bytes(record: &Record) -> Vec<usize> {
    record
        .segments
        .iter()
        .enumerate()
        .flat_map(|(index, segment)| std::iter::repeat_n(index, segment.text.len()))
        .collect()
}

/// Applies the token rule written out directly: a token is in the loss only
/// if every byte it covers belongs to a loss segment.
fn expected_flags(record: &Record, offsets: &[Range<usize>]) -> Vec<bool> {
    let owner = segment_of_bytes(record);
    offsets
        .iter()
        .map(|range| !range.is_empty() && range.clone().all(|byte| record.segments[owner[byte]].loss))
        .collect()
}

/// Encodes a record's text (without BOS and EOS) and returns the token offsets.
fn text_tokens(tokenizer: &Tokenizer, record: &Record) -> Vec<Range<usize>> {
    tokenizer.encode(&record.text(), &record.id).unwrap().into_iter().map(|token| token.offsets).collect()
}

#[test]
fn char_level_masks_follow_segments() {
    let special = SpecialTokens::default();
    for task in ["mult-3x3", "sudoku-4x4"] {
        let records = dataset(task);
        let tokenizer = Tokenizer::char_level_for_records(&records, "Ah! I made a mistake.", &special).unwrap();
        let (mut error_tokens, mut recognition_tokens) = (0, 0);
        for record in &records {
            let example = encode_record(record, &tokenizer).unwrap();
            assert_eq!(example.input_ids.len(), record.text().chars().count() + 2);
            assert_eq!(example.input_ids[0], tokenizer.token_id("<bos>").unwrap());
            assert_eq!(*example.input_ids.last().unwrap(), tokenizer.token_id("<eos>").unwrap());
            assert!(!example.target_loss[0], "BOS is never a target");
            assert_eq!(*example.target_loss.last().unwrap(), record.segments.last().unwrap().loss);

            let owner = segment_of_bytes(record);
            let offsets = text_tokens(&tokenizer, record);
            for (token, range) in offsets.iter().enumerate() {
                let segment = &record.segments[owner[range.start]];
                let in_loss = example.target_loss[token + 1];
                match segment.role {
                    Role::Error => {
                        error_tokens += 1;
                        assert!(!in_loss, "{}: an error token is in the loss", record.id);
                    }
                    Role::Recognition | Role::Correction => {
                        recognition_tokens += 1;
                        assert!(in_loss, "{}: a {:?} token is out of the loss", record.id, segment.role);
                    }
                    Role::Prompt => assert!(!in_loss, "{}: a prompt token is in the loss", record.id),
                    Role::Step | Role::Answer => assert!(in_loss, "{}", record.id),
                }
            }
        }
        assert!(error_tokens > 0, "{task}: the dataset has no injected errors");
        assert!(recognition_tokens > 0, "{task}: the dataset has no recognitions");
    }
}

#[test]
fn task_alphabet_covers_datasets() {
    let special = SpecialTokens::default();
    for task_name in ["mult-3x3", "sudoku-4x4"] {
        let task = selfcorrect_tasks::task_by_name(task_name).unwrap();
        let tokenizer = Tokenizer::char_level_for_task(task.as_ref(), "Ah! I made a mistake.", &special, 32).unwrap();
        for record in dataset(task_name) {
            encode_record(&record, &tokenizer).unwrap_or_else(|err| panic!("{task_name}: {err}"));
        }
    }
}

#[test]
fn char_level_json_matches_huggingface() {
    let dir = tempfile::tempdir().unwrap();
    let special = SpecialTokens::default();
    let mut records = dataset("mult-3x3");
    records.extend(dataset("sudoku-4x4"));
    let built = Tokenizer::char_level_for_records(&records, "Ah! I made a mistake.", &special).unwrap();
    let path = dir.path().join("tokenizer.json");
    built.save(&path).unwrap();

    let native = Tokenizer::from_file(&path, &special).unwrap();
    let huggingface = Tokenizer::from_file_huggingface(&path, &special).unwrap();
    assert!(native.is_char_level());
    assert!(!huggingface.is_char_level());
    assert_eq!(native.vocab_size(), built.vocab_size());
    assert_eq!(huggingface.vocab_size(), built.vocab_size());
    for name in ["<bos>", "<eos>", "<pad>", "\n", "A", "7"] {
        assert_eq!(native.token_id(name), huggingface.token_id(name), "{name:?}");
    }
    for record in &records {
        let a = encode_record(record, &native).unwrap();
        let b = encode_record(record, &huggingface).unwrap();
        assert_eq!(a, b, "{}", record.id);
        assert_eq!(text_tokens(&native, record), text_tokens(&huggingface, record));
    }
}

#[test]
fn unknown_character_names_it_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let special = SpecialTokens::default();
    let tokenizer = Tokenizer::char_level(["0123456789*+=\n"], &special).unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path).unwrap();
    let huggingface = Tokenizer::from_file_huggingface(&path, &special).unwrap();

    for tokenizer in [&tokenizer, &huggingface] {
        let Err(error) = tokenizer.encode("12*3\nx=36\n", "mult/1/2") else {
            panic!("an unknown character was encoded by {tokenizer:?}");
        };
        assert!(matches!(error, DataError::UnknownCharacter { character: 'x', offset: 5, .. }), "{error}");
        let message = error.to_string();
        for part in ["'x'", "U+0078", "byte 5", "mult/1/2", "vocabulary"] {
            assert!(message.contains(part), "{message:?} lacks {part:?}");
        }
    }
    let native_message = tokenizer.encode("x", "r").unwrap_err().to_string();
    assert!(native_message.contains("rebuild the character-level tokenizer"), "{native_message}");
}

#[test]
fn huggingface_unknown_token_is_an_error() {
    let alphabet: BTreeSet<char> = "0123456789*+=\n".chars().collect();
    let mut json = straddling_bpe_json(&alphabet);
    let unk_id = json["model"]["vocab"].as_object().unwrap().len();
    json["model"]["vocab"]["<unk>"] = json!(unk_id);
    json["model"]["unk_token"] = json!("<unk>");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();

    let tokenizer = Tokenizer::from_file(&path, &SpecialTokens::default()).unwrap();
    assert!(tokenizer.encode("12*3=36\n", "r0").is_ok());
    let Err(error) = tokenizer.encode("12*3\nx=36\n", "r1") else {
        panic!("a character that maps to <unk> was accepted");
    };
    assert!(matches!(error, DataError::UnknownCharacter { character: 'x', .. }), "{error}");
}

#[test]
fn special_tokens_are_found_by_name() {
    let special = SpecialTokens { bos: None, eos: "</s>".into(), pad: "[PAD]".into() };
    let tokenizer = Tokenizer::char_level(["ab\n"], &special).unwrap();
    assert_eq!(tokenizer.bos_id(), None);
    assert_eq!(Some(tokenizer.eos_id()), tokenizer.token_id("</s>"));
    assert_eq!(Some(tokenizer.pad_id()), tokenizer.token_id("[PAD]"));

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    tokenizer.save(&path).unwrap();
    let wrong = SpecialTokens::default();
    let message = Tokenizer::from_file_huggingface(&path, &wrong).unwrap_err().to_string();
    assert!(message.contains("\"<bos>\""), "{message}");
    assert!(message.contains("set the bos token name"), "{message}");

    let message = tokenizer.encode("a</s>\n", "r1").unwrap_err().to_string();
    assert!(message.contains("special token \"</s>\" as text"), "{message}");
}

fn one_record(segments: &[(Role, &str, bool)]) -> Record {
    Record {
        id: "handmade/0/0".into(),
        task: "mult-1x1".into(),
        problem: json!({"a": 3, "b": 4}),
        segments: segments
            .iter()
            .map(|&(role, text, loss)| Segment {
                role,
                text: text.into(),
                loss,
                kind: (role == Role::Error).then(|| "product_digit".to_string()),
            })
            .collect(),
        meta: Meta { seed: 0, index: 0, errors: 1, split: None },
    }
}

#[test]
fn one_character_spans() {
    // Three one-byte spans: loss, no loss, loss.
    let flags = [true, false, true];
    assert_eq!(token_loss_flags(&[0..1, 1..2, 2..3], &flags), [true, false, true]);
    assert_eq!(token_loss_flags(&[0..2, 2..3], &flags), [false, true]);
    assert_eq!(token_loss_flags(&[0..1, 1..3], &flags), [true, false]);
    let whole = 0..3;
    assert_eq!(token_loss_flags(std::slice::from_ref(&whole), &flags), [false]);

    // A record whose error segment is a single newline, between one-line segments.
    let record = one_record(&[
        (Role::Prompt, "3*4\n", false),
        (Role::Error, "\n", false),
        (Role::Recognition, "!\n", true),
        (Role::Correction, "4*3+0=12\n", true),
        (Role::Step, "p1=12\n", true),
        (Role::Answer, "answer=12\n", true),
    ]);
    record.validate().unwrap();
    let tokenizer = Tokenizer::char_level([record.text().as_str()], &SpecialTokens::default()).unwrap();
    let example = encode_record(&record, &tokenizer).unwrap();
    // BOS, the 4 prompt bytes, then the error newline at token 5.
    assert!(!example.target_loss[4], "the prompt's newline");
    assert!(!example.target_loss[5], "the one-character error");
    assert!(example.target_loss[6], "the recognition after it");
    assert_eq!(example.target_loss.iter().filter(|flag| !**flag).count(), 6);
}

#[test]
fn gaps_between_tokens_count_for_both_neighbours() {
    // Byte 2 is out of the loss and no token covers it: both neighbours are out.
    let flags = [true, true, false, true, true];
    assert_eq!(token_loss_flags(&[0..2, 3..5], &flags), [false, false]);
    // An uncovered loss byte changes nothing.
    let flags = [true, true, true, false, false];
    assert_eq!(token_loss_flags(&[0..2, 3..5], &flags), [true, false]);
    // Leading and trailing text that no token covers goes to the first and last token.
    let flags = [false, true, true, false];
    assert_eq!(token_loss_flags(&[1..2, 2..3], &flags), [false, false]);
    // A space token with an empty range after the space it encodes, as
    // byte-level BPE with trimmed offsets produces: it takes the space's flag,
    // and so does the token before the gap, while the word after it does not.
    assert_eq!(token_loss_flags(&[0..1, 2..2, 2..3], &[true, true, true]), [true, true, true]);
    assert_eq!(token_loss_flags(&[0..1, 2..2, 2..3], &[true, false, true]), [false, false, true]);
    // Empty tokens with no uncovered text around them are out of the loss.
    assert_eq!(token_loss_flags(&[0..0, 0..1, 1..1, 1..2], &[true, true]), [false, true, false, true]);
}

/// Builds a BPE `tokenizer.json` over `alphabet` whose merges glue each newline to
/// the character after it, so the first token of every line straddles the
/// edge between two segments.
fn straddling_bpe_json(alphabet: &BTreeSet<char>) -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    let mut merges = Vec::new();
    for name in ["<pad>", "<bos>", "<eos>"] {
        vocab.insert(name.into(), json!(vocab.len()));
    }
    for character in alphabet {
        vocab.insert(character.to_string(), json!(vocab.len()));
    }
    for character in alphabet.iter().filter(|character| **character != '\n') {
        vocab.insert(format!("\n{character}"), json!(vocab.len()));
        merges.push(json!(["\n", character.to_string()]));
    }
    let added: Vec<_> = ["<pad>", "<bos>", "<eos>"]
        .iter()
        .enumerate()
        .map(|(id, name)| {
            json!({"id": id, "content": name, "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true})
        })
        .collect();
    json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": added,
        "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                  "ignore_merges": false, "vocab": vocab, "merges": merges}
    })
}

#[test]
fn bpe_tokens_crossing_span_edges() {
    let records = dataset("mult-3x3");
    let alphabet: BTreeSet<char> =
        records.iter().flat_map(|record| record.text().chars().collect::<Vec<_>>()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    std::fs::write(&path, serde_json::to_string(&straddling_bpe_json(&alphabet)).unwrap()).unwrap();
    let tokenizer = Tokenizer::from_file(&path, &SpecialTokens::default()).unwrap();
    assert!(!tokenizer.is_char_level());

    let (mut into_error, mut out_of_error, mut loss_to_loss) = (0, 0, 0);
    for record in &records {
        let example = encode_record(record, &tokenizer).unwrap();
        let offsets = text_tokens(&tokenizer, record);
        let flags = &example.target_loss[1..example.target_loss.len() - 1];
        assert_eq!(flags, expected_flags(record, &offsets), "{}", record.id);
        assert!(offsets.len() < record.text().len(), "{}: the merges apply", record.id);

        let owner = segment_of_bytes(record);
        for (range, &in_loss) in offsets.iter().zip(flags) {
            let first = &record.segments[owner[range.start]];
            let last = &record.segments[owner[range.end - 1]];
            if first.role == Role::Error || last.role == Role::Error {
                assert!(!in_loss, "{}: a token with error bytes is in the loss", record.id);
            }
            if owner[range.start] != owner[range.end - 1] {
                match (first.role, last.role) {
                    (_, Role::Error) => into_error += 1,
                    (Role::Error, _) => out_of_error += 1,
                    _ if first.loss && last.loss => {
                        loss_to_loss += 1;
                        assert!(in_loss, "{}: a token across two loss segments is out", record.id);
                    }
                    _ => assert!(!in_loss),
                }
            }
        }
    }
    // Every kind of edge occurs, so each rule above was exercised.
    assert!(into_error > 0, "no token runs into an error segment");
    assert!(out_of_error > 0, "no token runs out of an error segment");
    assert!(loss_to_loss > 0, "no token joins two loss segments");
}

/// Trains a GPT-2 style byte-level BPE tokenizer on `texts` with the
/// `tokenizers` trainer. Its offsets leave out the space before a word (and
/// give a lone space token an empty range), the case the token rule widens over.
fn train_byte_level_bpe(texts: &[String], path: &std::path::Path) {
    use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
    use tokenizers::normalizers::NormalizerWrapper;
    use tokenizers::pre_tokenizers::byte_level::ByteLevel;
    use tokenizers::{AddedToken, TokenizerBuilder};

    let specials = ["<pad>", "<bos>", "<eos>"].map(|name| AddedToken::from(name, true)).to_vec();
    let mut trainer = BpeTrainerBuilder::new()
        .vocab_size(400)
        .min_frequency(2)
        .show_progress(false)
        .special_tokens(specials)
        .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
        .build();
    // No prefix space, so the decoded tokens concatenate to the text exactly.
    let byte_level = ByteLevel::new(false, true, true);
    let mut tokenizer = TokenizerBuilder::<BPE, NormalizerWrapper, ByteLevel, ByteLevel, ByteLevel>::new()
        .with_model(BPE::default())
        .with_normalizer(None)
        .with_pre_tokenizer(Some(byte_level))
        .with_post_processor(Some(byte_level))
        .with_decoder(Some(byte_level))
        .build()
        .unwrap();
    tokenizer.train(&mut trainer, texts.iter()).unwrap();
    tokenizer.save(path, false).unwrap();
}

#[test]
fn trained_byte_level_bpe_masks() {
    let records = dataset("mult-3x3");
    let texts: Vec<String> = records.iter().map(Record::text).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokenizer.json");
    train_byte_level_bpe(&texts, &path);
    let tokenizer = Tokenizer::from_file(&path, &SpecialTokens::default()).unwrap();
    let reference = tokenizers::Tokenizer::from_file(&path).unwrap();

    let (mut merged, mut trimmed) = (0, 0);
    for record in &records {
        let text = record.text();
        let encoding = reference.encode(text.as_str(), false).unwrap();
        let example = encode_record(record, &tokenizer).unwrap();
        assert_eq!(&example.input_ids[1..example.input_ids.len() - 1], encoding.get_ids());

        // The true bytes of each token, from decoding the tokens one by one:
        // byte-level decoding is lossless and the texts are ASCII.
        let mut spans = Vec::new();
        let mut start = 0;
        for &id in encoding.get_ids() {
            let piece = reference.decode(&[id], false).unwrap();
            merged += usize::from(piece.len() > 1);
            spans.push(start..start + piece.len());
            start += piece.len();
        }
        assert_eq!(start, text.len(), "{}: the tokens decode to the text", record.id);
        trimmed +=
            encoding.get_offsets().iter().zip(&spans).filter(|((start, end), span)| end - start < span.len()).count();

        let flags = &example.target_loss[1..example.target_loss.len() - 1];
        assert_eq!(flags, expected_flags(record, &spans), "{}", record.id);
    }
    assert!(merged > 0, "the trainer learned merges");
    assert!(trimmed > 0, "no token offsets leave out a trimmed space");
}

#[test]
fn batch_shifts_targets_and_loss_mask() {
    let examples = [
        EncodedExample {
            id: "a".into(),
            input_ids: vec![1, 10, 11, 12, 2],
            target_loss: vec![false, false, true, true, true],
        },
        EncodedExample { id: "b".into(), input_ids: vec![1, 20, 2], target_loss: vec![false, true, false] },
    ];
    let batch = Batch::new(&examples, 0, None).unwrap();
    assert_eq!((batch.batch_size, batch.seq_len), (2, 4));
    assert_eq!(batch.input_ids, [1, 10, 11, 12, 1, 20, 0, 0]);
    assert_eq!(batch.targets, [10, 11, 12, 2, 20, 2, 0, 0]);
    assert_eq!(batch.attention_mask, [1, 1, 1, 1, 1, 1, 0, 0]);
    // loss_mask[t] is the flag of targets[t], the token after input t.
    assert_eq!(batch.loss_mask, [0, 1, 1, 1, 1, 0, 0, 0]);

    assert_eq!(examples[0].labels(), [IGNORE_INDEX, IGNORE_INDEX, 11, 12, 2]);
    assert!(Batch::new(&examples, 0, Some(3)).unwrap_err().to_string().contains("over the maximum 3"));
    assert!(Batch::new(&[], 0, None).is_err());
}
