//! Tokenized exports for Python training stacks: JSONL or Parquet with one
//! row per record and the columns `id`, `input_ids`, `attention_mask` and
//! `labels`. Rows are unpadded (the attention mask is all ones) and labels
//! follow the Hugging Face causal-LM convention: `labels[t] = input_ids[t]`
//! where the token is in the loss and -100 elsewhere, unshifted, because the
//! model shifts them.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use arrow_array::builder::{Int8Builder, Int32Builder, ListBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde::Serialize;

use crate::error::{DataError, Result};
use crate::io::write_atomically;
use crate::mask::{EncodedExample, encode_record};
use crate::record::read_records;
use crate::tokenizer::Tokenizer;

/// Records per Parquet row group.
const ROWS_PER_GROUP: usize = 4096;

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Jsonl,
    Parquet,
}

impl FromStr for ExportFormat {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self> {
        match text {
            "jsonl" => Ok(ExportFormat::Jsonl),
            "parquet" => Ok(ExportFormat::Parquet),
            other => Err(DataError::invalid_config("format", format!("{other:?}"), "\"jsonl\" or \"parquet\"")),
        }
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub records: usize,
    pub tokens: usize,
    /// Tokens with a label other than -100.
    pub loss_tokens: usize,
}

#[derive(Serialize)]
struct ExportRow<'a> {
    id: &'a str,
    input_ids: &'a [u32],
    attention_mask: Vec<u8>,
    labels: Vec<i64>,
}

/// Tokenizes the records of a JSONL file and writes them in `format` to `out_path`.
pub fn export(records_jsonl: &Path, tokenizer: &Tokenizer, format: ExportFormat, out_path: &Path) -> Result<ExportSummary> {
    let records = read_records(records_jsonl)?;
    let examples = records.iter().map(|record| encode_record(record, tokenizer)).collect::<Result<Vec<_>>>()?;
    let summary = ExportSummary {
        records: examples.len(),
        tokens: examples.iter().map(|example| example.input_ids.len()).sum(),
        loss_tokens: examples.iter().map(|example| example.target_loss.iter().filter(|&&flag| flag).count()).sum(),
    };
    match format {
        ExportFormat::Jsonl => write_jsonl_export(&examples, out_path)?,
        ExportFormat::Parquet => write_parquet_export(&examples, out_path)?,
    }
    Ok(summary)
}

fn write_jsonl_export(examples: &[EncodedExample], out_path: &Path) -> Result<()> {
    write_atomically(out_path, |writer| {
        for example in examples {
            let row = ExportRow {
                id: &example.id,
                input_ids: &example.input_ids,
                attention_mask: vec![1; example.input_ids.len()],
                labels: example.labels(),
            };
            serde_json::to_writer(&mut *writer, &row).map_err(std::io::Error::other)?;
            std::io::Write::write_all(writer, b"\n")?;
        }
        Ok(())
    })
}

fn list_field(name: &str, item: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", item, true))), false)
}

/// The Parquet schema: `input_ids` and `labels` as int32 lists, `attention_mask` as int8.
fn export_schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        list_field("input_ids", DataType::Int32),
        list_field("attention_mask", DataType::Int8),
        list_field("labels", DataType::Int32),
    ]))
}

fn record_batch(schema: &Arc<Schema>, examples: &[EncodedExample]) -> Result<RecordBatch> {
    let mut ids = StringBuilder::new();
    let mut input_ids = ListBuilder::new(Int32Builder::new());
    let mut attention_mask = ListBuilder::new(Int8Builder::new());
    let mut labels = ListBuilder::new(Int32Builder::new());
    for example in examples {
        ids.append_value(&example.id);
        for &id in &example.input_ids {
            let id = i32::try_from(id)
                .map_err(|_| DataError::Parquet(format!("token id {id} of {} does not fit int32", example.id)))?;
            input_ids.values().append_value(id);
        }
        input_ids.append(true);
        for _ in &example.input_ids {
            attention_mask.values().append_value(1);
        }
        attention_mask.append(true);
        for label in example.labels() {
            // Labels are token ids, already checked to fit int32, or -100.
            labels.values().append_value(label as i32);
        }
        labels.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        Arc::new(input_ids.finish()),
        Arc::new(attention_mask.finish()),
        Arc::new(labels.finish()),
    ];
    RecordBatch::try_new(schema.clone(), columns).map_err(|err| DataError::Parquet(err.to_string()))
}

fn write_parquet_export(examples: &[EncodedExample], out_path: &Path) -> Result<()> {
    let schema = export_schema();
    let batches = examples
        .chunks(ROWS_PER_GROUP)
        .map(|chunk| record_batch(&schema, chunk))
        .collect::<Result<Vec<_>>>()?;
    let properties = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    write_atomically(out_path, |writer| {
        let mut parquet = ArrowWriter::try_new(writer, schema.clone(), Some(properties)).map_err(std::io::Error::other)?;
        for batch in &batches {
            parquet.write(batch).map_err(std::io::Error::other)?;
            // One row group per batch keeps row groups bounded for readers.
            parquet.flush().map_err(std::io::Error::other)?;
        }
        parquet.close().map_err(std::io::Error::other)?;
        Ok(())
    })
}
