//! Dataset records: the text of one training example split into segments,
//! each with a role and a loss flag, so that loss masks come from character
//! spans and never from searching the text for token patterns.

use std::ops::Range;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::io::read_jsonl_values;

/// What a segment of an example is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Prompt,
    /// A correct step of the golden trace.
    Step,
    /// An injected wrong step.
    Error,
    /// The phrase that flags the error before it.
    Recognition,
    /// The correct step written again after a recognition.
    Correction,
    /// The golden answer line, when no error was injected in its place.
    Answer,
}

/// A span of an example's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    pub role: Role,
    /// The segment's text; every segment ends with a newline.
    pub text: String,
    /// Whether the tokens of this segment are training targets.
    pub loss: bool,
    /// The error kind, on `error` segments only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The seed `Task::generate` takes to make this record's problem.
    pub seed: u64,
    pub index: u64,
    /// Injected errors in this record.
    pub errors: usize,
    /// The dataset split, for records of a built dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
}

/// One training example.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub id: String,
    pub task: String,
    pub problem: serde_json::Value,
    pub segments: Vec<Segment>,
    pub meta: Meta,
}

impl Record {
    /// The example's text: the segment texts concatenated.
    pub fn text(&self) -> String {
        self.segments.iter().map(|segment| segment.text.as_str()).collect()
    }

    /// The byte range of each segment in [`Record::text`].
    pub fn segment_spans(&self) -> Vec<Range<usize>> {
        let mut start = 0;
        self.segments
            .iter()
            .map(|segment| {
                let span = start..start + segment.text.len();
                start = span.end;
                span
            })
            .collect()
    }

    /// Checks the invariants that masks and exports rely on.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let Some(first) = self.segments.first() else {
            return Err("a record needs at least a prompt segment".into());
        };
        if first.role != Role::Prompt || first.loss {
            return Err("the first segment must be the prompt, with loss false".into());
        }
        for (index, segment) in self.segments.iter().enumerate() {
            if !segment.text.ends_with('\n') {
                return Err(format!("segment {index} ({:?}) does not end with a newline", segment.role));
            }
            if index > 0 && segment.role == Role::Prompt {
                return Err(format!("segment {index} is a second prompt"));
            }
            if (segment.role == Role::Error) != segment.kind.is_some() {
                return Err(format!("segment {index}: error segments, and only they, carry a kind"));
            }
        }
        Ok(())
    }
}

/// Reads records from a JSONL file, checking each with [`Record::validate`].
pub fn read_records(path: &Path) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    for (line, value) in read_jsonl_values(path)? {
        let invalid = |reason: String| DataError::InvalidRecord { path: path.to_path_buf(), line, reason };
        let record: Record = serde_json::from_value(value).map_err(|err| invalid(format!("not a record: {err}")))?;
        record.validate().map_err(invalid)?;
        records.push(record);
    }
    Ok(records)
}
