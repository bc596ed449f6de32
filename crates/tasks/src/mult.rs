//! Long multiplication `mult-AxB`: an A-digit number times a B-digit number.
//!
//! The trace multiplies digit by digit with explicit carries, one operation per
//! line, then adds the partial products pairwise, column by column:
//!
//! ```text
//! 47*36                   prompt
//! 6*7+0=42                b0*a0+carry = two-digit value: write 2, carry 4
//! 6*4+4=28
//! p1=282                  partial product 1: final carry, then the digits
//! 3*7+0=21
//! 3*4+2=14
//! p2=1410                 partial product 2, shifted one place
//! 2+0+0=02                column 0 of p1+p2: digit of p1, digit of p2, carry
//! 8+1+0=09
//! 2+4+0=06
//! 0+1+0=01
//! s1=1692                 running sum 1 = p1+p2
//! answer=1692
//! ```
//!
//! The verifier walks the same sequence over the lines as written. Each line is
//! checked against the problem and the lines before it, so a line that uses an
//! earlier wrong value correctly is a propagated consequence, not a new error.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::annotate::{self, Checked, LineRole, StepVerifier, Verdict};
use crate::{Annotation, ErrorKind, Problem, Rng, Task, TaskError, item_seed};

/// The multiplication error taxonomy, in report order.
pub const ERROR_KINDS: &[ErrorKind] = &[
    ErrorKind { name: "product_digit", description: "a digit product plus carry computed wrongly", synthetic: true },
    ErrorKind {
        name: "carry",
        description: "a product step's carry-in differs from the carry of the step before \
                      (dropped, added or wrong value)",
        synthetic: true,
    },
    ErrorKind {
        name: "operand",
        description: "a wrong digit copied as an operand of a product or addition step",
        synthetic: true,
    },
    ErrorKind {
        name: "shift",
        description: "a partial product with the wrong number of trailing zeros (misaligned)",
        synthetic: true,
    },
    ErrorKind {
        name: "summary",
        description: "a partial-product or running-sum line whose digits differ from \
                      the digits its steps wrote",
        synthetic: true,
    },
    ErrorKind { name: "add_digit", description: "a column sum computed wrongly", synthetic: true },
    ErrorKind {
        name: "add_carry",
        description: "an addition step's carry-in differs from the carry of the column before",
        synthetic: true,
    },
    ErrorKind {
        name: "skipped_step",
        description: "a step written where an earlier step is still due",
        synthetic: true,
    },
    ErrorKind { name: "repeated_step", description: "a step that was already done, written again", synthetic: true },
    ErrorKind {
        name: "final_answer",
        description: "an answer line that differs from the last running sum",
        synthetic: true,
    },
    ErrorKind { name: "after_answer", description: "a step written after the answer line", synthetic: false },
];

/// The `mult-AxB` task.
#[derive(Debug, Clone)]
pub struct Multiplication {
    name: String,
    a_digits: usize,
    b_digits: usize,
}

impl Multiplication {
    /// Builds the task from the part of its name after `mult-`, such as `4x4`.
    pub fn from_spec(name: &str, spec: &str) -> Result<Self, TaskError> {
        let invalid = |reason: &str| TaskError::InvalidTaskName { name: name.to_string(), reason: reason.to_string() };
        let (a, b) = spec
            .split_once('x')
            .ok_or_else(|| invalid("expected mult-AxB with digit counts A and B, e.g. mult-4x4"))?;
        let parse = |text: &str| -> Result<usize, TaskError> {
            match text.parse::<usize>() {
                Ok(n) if (1..=9).contains(&n) => Ok(n),
                _ => Err(invalid(&format!("digit count '{text}' must be a whole number from 1 to 9"))),
            }
        };
        Ok(Self { name: name.to_string(), a_digits: parse(a)?, b_digits: parse(b)? })
    }

    pub fn new(a_digits: usize, b_digits: usize) -> Result<Self, TaskError> {
        let name = format!("mult-{a_digits}x{b_digits}");
        Self::from_spec(&name, &format!("{a_digits}x{b_digits}"))
    }

    fn instance(&self, a: u64, b: u64) -> MultProblem {
        MultProblem::new(a, b)
    }
}

impl Task for Multiplication {
    fn name(&self) -> &str {
        &self.name
    }

    fn error_kinds(&self) -> &'static [ErrorKind] {
        ERROR_KINDS
    }

    fn generate(&self, seed: u64, index: u64) -> Result<Box<dyn Problem>, TaskError> {
        let mut rng = Rng::new(item_seed(&self.name, seed, index));
        let low = |digits: usize| 10u64.pow(digits as u32 - 1);
        let high = |digits: usize| 10u64.pow(digits as u32) - 1;
        let a = rng.range_inclusive(low(self.a_digits), high(self.a_digits));
        let b = rng.range_inclusive(low(self.b_digits), high(self.b_digits));
        Ok(Box::new(self.instance(a, b)))
    }

    fn load(&self, problem: &serde_json::Value) -> Result<Box<dyn Problem>, TaskError> {
        let invalid = |reason: String| TaskError::InvalidProblem { task: self.name.clone(), reason };
        let fields: MultFields = serde_json::from_value(problem.clone())
            .map_err(|err| invalid(format!("expected {{\"a\": int, \"b\": int}}: {err}")))?;
        for (label, value, digits) in [("a", fields.a, self.a_digits), ("b", fields.b, self.b_digits)] {
            if value.to_string().len() != digits {
                return Err(invalid(format!("{label} = {value} must have exactly {digits} digits")));
            }
        }
        Ok(Box::new(self.instance(fields.a, fields.b)))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MultFields {
    a: u64,
    b: u64,
}

/// The position of a line in the trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Slot {
    /// Product step: digit `j` of b times digit `i` of a (both from the right).
    Product {
        j: usize,
        i: usize,
    },
    /// Partial product line `p{j+1}`.
    Partial {
        j: usize,
    },
    /// Addition step: column `k` of running sum `m` (adding partial product `m + 1`).
    Add {
        m: usize,
        k: usize,
    },
    /// Running-sum line `s{m}`.
    Sum {
        m: usize,
    },
    Answer,
    Done,
}

/// A line of the trace, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Line {
    Product { b: u8, a: u8, carry: u8, value: u8 },
    Partial { label: usize, digits: String },
    Add { x: u8, y: u8, carry: u8, value: u8 },
    Sum { label: usize, digits: String },
    Answer { digits: String },
}

impl Line {
    fn render(&self) -> String {
        match self {
            Line::Product { b, a, carry, value } => format!("{b}*{a}+{carry}={value:02}"),
            Line::Partial { label, digits } => format!("p{label}={digits}"),
            Line::Add { x, y, carry, value } => format!("{x}+{y}+{carry}={value:02}"),
            Line::Sum { label, digits } => format!("s{label}={digits}"),
            Line::Answer { digits } => format!("answer={digits}"),
        }
    }

    /// Parses one trimmed line; `None` for anything that is not a trace line.
    fn parse(text: &str) -> Option<Line> {
        if let Some(digits) = text.strip_prefix("answer=") {
            return number_text(digits).map(|digits| Line::Answer { digits });
        }
        for (prefix, is_partial) in [("p", true), ("s", false)] {
            if let Some(rest) = text.strip_prefix(prefix) {
                let (label, digits) = rest.split_once('=')?;
                let label = small_number(label, 2)? as usize;
                let digits = number_text(digits)?;
                return Some(if is_partial { Line::Partial { label, digits } } else { Line::Sum { label, digits } });
            }
        }
        let (left, value) = text.split_once('=')?;
        let value = small_number(value, 2)?;
        if let Some((b, rest)) = left.split_once('*') {
            let (a, carry) = rest.split_once('+')?;
            return Some(Line::Product {
                b: small_number(b, 1)?,
                a: small_number(a, 1)?,
                carry: small_number(carry, 2)?,
                value,
            });
        }
        let mut parts = left.split('+');
        let x = small_number(parts.next()?, 1)?;
        let y = small_number(parts.next()?, 1)?;
        let carry = small_number(parts.next()?, 2)?;
        if parts.next().is_some() {
            return None;
        }
        Some(Line::Add { x, y, carry, value })
    }
}

/// Parses 1 to `max_len` ASCII digits.
fn small_number(text: &str, max_len: usize) -> Option<u8> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Accepts 1 to 40 ASCII digits, the longest number a trace line may hold.
fn number_text(text: &str) -> Option<String> {
    let ok = !text.is_empty() && text.len() <= 40 && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.to_string())
}

/// Digit `k` from the right of a decimal string, 0 past its left end.
fn digit_at(number: &str, k: usize) -> u8 {
    let bytes = number.as_bytes();
    if k < bytes.len() { bytes[bytes.len() - 1 - k] - b'0' } else { 0 }
}

/// Collects a group's digits (least significant first) under its final carry.
fn collect_digits(carry: u8, digits: &[u8]) -> String {
    let mut text = String::with_capacity(digits.len() + 1);
    if carry > 0 {
        text.push(char::from(b'0' + carry));
    }
    for digit in digits.iter().rev() {
        text.push(char::from(b'0' + digit));
    }
    text
}

/// Verifier state: where the trace is and the values it has written so far.
#[derive(Debug, Clone)]
pub(crate) struct MultState {
    slot: Slot,
    /// Carry out of the last step of the current group.
    carry: u8,
    /// Digits written by the steps of the current group, least significant first.
    digits: Vec<u8>,
    /// Partial products as written.
    partials: Vec<String>,
    /// The running total as written: p1, then each running sum.
    total: String,
    /// Column count of the current addition, from the operands as written.
    columns: usize,
    last_line: String,
}

/// A multiplication problem with its digits and the true content of every slot.
#[derive(Debug, Clone)]
pub struct MultProblem {
    a: u64,
    b: u64,
    /// Digits of a and b, least significant first.
    a_digits: Vec<u8>,
    b_digits: Vec<u8>,
    golden: Vec<(Slot, Line)>,
    truth: HashMap<Slot, Line>,
}

impl MultProblem {
    pub fn new(a: u64, b: u64) -> Self {
        let digits = |n: u64| n.to_string().bytes().rev().map(|d| d - b'0').collect::<Vec<u8>>();
        let mut problem =
            Self { a, b, a_digits: digits(a), b_digits: digits(b), golden: Vec::new(), truth: HashMap::new() };
        problem.golden = problem.solve();
        problem.truth = problem.golden.iter().cloned().collect();
        problem
    }

    /// Computes the golden trace from the digits.
    fn solve(&self) -> Vec<(Slot, Line)> {
        let mut lines = Vec::new();
        let mut partials = Vec::new();

        for (j, &b) in self.b_digits.iter().enumerate() {
            let mut carry = 0;
            let mut digits = Vec::new();
            for (i, &a) in self.a_digits.iter().enumerate() {
                let value = b * a + carry;
                lines.push((Slot::Product { j, i }, Line::Product { b, a, carry, value }));
                digits.push(value % 10);
                carry = value / 10;
            }
            let shifted = collect_digits(carry, &digits) + &"0".repeat(j);
            lines.push((Slot::Partial { j }, Line::Partial { label: j + 1, digits: shifted.clone() }));
            partials.push(shifted);
        }

        let mut total = partials[0].clone();
        for m in 1..partials.len() {
            let addend = &partials[m];
            let mut carry = 0;
            let mut digits = Vec::new();
            for k in 0..total.len().max(addend.len()) {
                let (x, y) = (digit_at(&total, k), digit_at(addend, k));
                let value = x + y + carry;
                lines.push((Slot::Add { m, k }, Line::Add { x, y, carry, value }));
                digits.push(value % 10);
                carry = value / 10;
            }
            total = collect_digits(carry, &digits);
            lines.push((Slot::Sum { m }, Line::Sum { label: m, digits: total.clone() }));
        }

        lines.push((Slot::Answer, Line::Answer { digits: total }));
        lines
    }

    fn initial_state(&self) -> MultState {
        MultState {
            slot: Slot::Product { j: 0, i: 0 },
            carry: 0,
            digits: Vec::new(),
            partials: Vec::new(),
            total: String::new(),
            columns: 0,
            last_line: String::new(),
        }
    }

    /// Moves the state to the slot after a finished partial-product or running-sum line.
    fn enter_next_group(&self, state: &mut MultState) {
        state.carry = 0;
        state.digits.clear();
        let next_product = state.partials.len();
        let finished_sums = match state.slot {
            Slot::Sum { m } => m,
            _ => 0,
        };
        state.slot = if next_product < self.b_digits.len() {
            Slot::Product { j: next_product, i: 0 }
        } else if finished_sums + 1 < state.partials.len() {
            let m = finished_sums + 1;
            state.columns = state.total.len().max(state.partials[m].len());
            Slot::Add { m, k: 0 }
        } else {
            Slot::Answer
        };
    }

    /// Records a digit step at the current slot and moves on by `advance` slots.
    fn record_step(&self, state: &mut MultState, value: u8, advance: usize) {
        state.digits.push(value % 10);
        state.carry = value / 10;
        state.slot = match state.slot {
            Slot::Product { j, i } if i + advance < self.a_digits.len() => Slot::Product { j, i: i + advance },
            Slot::Product { j, .. } => Slot::Partial { j },
            Slot::Add { m, k } if k + advance < state.columns => Slot::Add { m, k: k + advance },
            Slot::Add { m, .. } => Slot::Sum { m },
            other => other,
        };
    }

    /// The operands a step at `slot` must copy, given the values written so far.
    fn operands(&self, state: &MultState, slot: Slot) -> Option<(u8, u8)> {
        match slot {
            Slot::Product { j, i } if i < self.a_digits.len() => Some((self.b_digits[j], self.a_digits[i])),
            Slot::Add { m, k } if k < state.columns => {
                Some((digit_at(&state.total, k), digit_at(&state.partials[m], k)))
            }
            _ => None,
        }
    }

    /// Verifies a product or addition step at a digit slot.
    fn check_digit_step(&self, state: &MultState, line: &Line, text: &str) -> (Verdict, MultState) {
        let mut next = state.clone();
        let (left, right, carry, value, is_product) = match *line {
            Line::Product { b, a, carry, value } => (b, a, carry, value, true),
            Line::Add { x, y, carry, value } => (x, y, carry, value, false),
            _ => unreachable!("check_digit_step takes digit steps only"),
        };
        let (slot_index, slot_next) = match state.slot {
            Slot::Product { j, i } => (i, Slot::Product { j, i: i + 1 }),
            Slot::Add { m, k } => (k, Slot::Add { m, k: k + 1 }),
            _ => unreachable!("check_digit_step runs at digit slots only"),
        };
        let expected = self.operands(state, state.slot).expect("digit slot has operands");

        if (left, right) != expected {
            if text == state.last_line {
                return (Verdict::wrong("repeated_step", "the previous line written again"), next);
            }
            if let Some(skipped_to) = self.operands(state, slot_next) {
                if (left, right) == skipped_to {
                    // The skipped slot's digit was never written. Recording what a correct
                    // step there would have written keeps later lines judged against a
                    // consistent state.
                    let (l, r) = expected;
                    let missing = if is_product { l * r + state.carry } else { l + r + state.carry };
                    self.record_step(&mut next, missing, 1);
                    self.record_step(&mut next, value, 1);
                    let detail = format!("operands of the next step; ({}, {}) are due first", l, r);
                    return (Verdict::wrong("skipped_step", detail), next);
                }
            }
            let earlier = (0..slot_index).any(|index| {
                let slot = match state.slot {
                    Slot::Product { j, .. } => Slot::Product { j, i: index },
                    Slot::Add { m, .. } => Slot::Add { m, k: index },
                    other => other,
                };
                self.operands(state, slot) == Some((left, right))
            });
            if earlier {
                return (Verdict::wrong("repeated_step", "operands of a step already done"), next);
            }
            self.record_step(&mut next, value, 1);
            let detail = format!("operands {left} and {right}, expected {} and {}", expected.0, expected.1);
            return (Verdict::wrong("operand", detail), next);
        }

        self.record_step(&mut next, value, 1);
        if carry != state.carry {
            let kind = if is_product { "carry" } else { "add_carry" };
            let detail = match (state.carry, carry) {
                (due, 0) if due > 0 => format!("carry {due} dropped"),
                (0, added) => format!("carry {added} added where none is due"),
                (due, wrote) => format!("carry {wrote}, expected {due}"),
            };
            return (Verdict::wrong(kind, detail), next);
        }
        let right_value = if is_product { left * right + carry } else { left + right + carry };
        if value != right_value {
            let kind = if is_product { "product_digit" } else { "add_digit" };
            return (Verdict::wrong(kind, format!("wrote {value:02}, expected {right_value:02}")), next);
        }
        (self.propagated_or_correct(state.slot, line), next)
    }

    /// Verifies a partial-product or running-sum line.
    fn check_summary_line(&self, state: &MultState, line: &Line) -> (Verdict, MultState) {
        let mut next = state.clone();
        let (label, digits, shift, due_label) = match (line, state.slot) {
            (Line::Partial { label, digits }, Slot::Partial { j }) => (*label, digits, j, j + 1),
            (Line::Sum { label, digits }, Slot::Sum { m }) => (*label, digits, 0, m),
            _ => unreachable!("check_summary_line runs on a line that matches its slot"),
        };
        let core = collect_digits(state.carry, &state.digits);
        let expected = core.clone() + &"0".repeat(shift);

        if let Line::Partial { .. } = line {
            next.partials.push(digits.clone());
            if next.partials.len() == 1 {
                next.total = digits.clone();
            }
        } else {
            next.total = digits.clone();
        }
        self.enter_next_group(&mut next);

        let verdict = if label != due_label {
            Verdict::wrong("summary", format!("labelled {label}, expected {due_label}"))
        } else if *digits == expected {
            self.propagated_or_correct(state.slot, line)
        } else if matches!(line, Line::Partial { .. })
            && digits.starts_with(&core)
            && digits[core.len()..].bytes().all(|b| b == b'0')
        {
            let zeros = digits.len() - core.len();
            Verdict::wrong("shift", format!("{zeros} trailing zeros, expected {shift}"))
        } else {
            Verdict::wrong("summary", format!("wrote {digits}, the steps give {expected}"))
        };
        (verdict, next)
    }

    fn propagated_or_correct(&self, slot: Slot, line: &Line) -> Verdict {
        if self.truth.get(&slot) == Some(line) { Verdict::Correct } else { Verdict::Propagated }
    }

    fn check(&self, state: &MultState, line: &Line, text: &str) -> (Verdict, MultState) {
        let slot = state.slot;
        let with_line = |(verdict, mut next): (Verdict, MultState)| {
            next.last_line = text.to_string();
            (verdict, next)
        };
        let unchanged = |kind: &str, detail: &str| {
            let mut next = state.clone();
            next.last_line = text.to_string();
            (Verdict::wrong(kind, detail), next)
        };

        match (line, slot) {
            (_, Slot::Done) => unchanged("after_answer", "a line after the answer"),
            (Line::Product { .. }, Slot::Product { .. }) | (Line::Add { .. }, Slot::Add { .. }) => {
                with_line(self.check_digit_step(state, line, text))
            }
            (Line::Partial { .. }, Slot::Partial { .. }) | (Line::Sum { .. }, Slot::Sum { .. }) => {
                with_line(self.check_summary_line(state, line))
            }
            (Line::Answer { digits }, Slot::Answer) => {
                let mut next = state.clone();
                next.slot = Slot::Done;
                next.last_line = text.to_string();
                let verdict = if *digits == state.total {
                    self.propagated_or_correct(slot, line)
                } else {
                    Verdict::wrong("final_answer", format!("answer {digits}, the last sum is {}", state.total))
                };
                (verdict, next)
            }
            (Line::Answer { .. }, _) => {
                let mut next = state.clone();
                next.slot = Slot::Done;
                next.last_line = text.to_string();
                (Verdict::wrong("skipped_step", "the answer before the sums are done"), next)
            }
            // A summary line before its group's steps are all done: take it as
            // written and move on to the next group.
            (Line::Partial { .. }, Slot::Product { j, .. }) | (Line::Sum { .. }, Slot::Add { m: j, .. }) => {
                let mut at_summary = state.clone();
                at_summary.slot = match slot {
                    Slot::Product { .. } => Slot::Partial { j },
                    _ => Slot::Sum { m: j },
                };
                let (_, next) = self.check_summary_line(&at_summary, line);
                with_line((Verdict::wrong("skipped_step", "a summary line before its steps are done"), next))
            }
            // The first step of the next group where a summary line is due.
            (Line::Product { b, a, .. }, Slot::Partial { j })
                if j + 1 < self.b_digits.len() && (*b, *a) == (self.b_digits[j + 1], self.a_digits[0]) =>
            {
                self.skip_summary_line(state, line, text)
            }
            (Line::Add { x, y, .. }, Slot::Sum { .. } | Slot::Partial { .. })
                if self.next_add_operands(state, slot) == Some((*x, *y)) =>
            {
                self.skip_summary_line(state, line, text)
            }
            (Line::Product { .. }, _) | (Line::Partial { .. }, _) => {
                unchanged("repeated_step", "a multiplication line after its group is done")
            }
            (Line::Add { .. }, Slot::Product { .. }) | (Line::Add { .. }, Slot::Partial { .. }) => {
                unchanged("skipped_step", "an addition before the partial products are done")
            }
            (Line::Sum { .. }, Slot::Answer) => unchanged("repeated_step", "a running sum after the last sum"),
            (Line::Sum { .. }, _) => unchanged("skipped_step", "a running sum before its steps"),
            (Line::Add { .. }, _) => unchanged("repeated_step", "an addition line after its sum"),
        }
    }

    /// Operands of the first addition step after the summary line due at `slot`.
    fn next_add_operands(&self, state: &MultState, slot: Slot) -> Option<(u8, u8)> {
        let mut after = state.clone();
        after.slot = slot;
        let core = collect_digits(state.carry, &state.digits);
        match slot {
            Slot::Partial { j } => {
                after.partials.push(core + &"0".repeat(j));
                if after.partials.len() == 1 {
                    after.total = after.partials[0].clone();
                }
            }
            Slot::Sum { .. } => after.total = core,
            _ => return None,
        }
        self.enter_next_group(&mut after);
        match after.slot {
            Slot::Add { .. } => self.operands(&after, after.slot),
            _ => None,
        }
    }

    /// Accepts a step of the next group where a summary line was due: the
    /// summary is taken as the steps' digits, and the step is judged skipped.
    fn skip_summary_line(&self, state: &MultState, line: &Line, text: &str) -> (Verdict, MultState) {
        let mut next = state.clone();
        let core = collect_digits(state.carry, &state.digits);
        match state.slot {
            Slot::Partial { j } => {
                next.partials.push(core + &"0".repeat(j));
                if next.partials.len() == 1 {
                    next.total = next.partials[0].clone();
                }
            }
            _ => next.total = core,
        }
        self.enter_next_group(&mut next);
        let value = match *line {
            Line::Product { value, .. } | Line::Add { value, .. } => value,
            _ => 0,
        };
        self.record_step(&mut next, value, 1);
        next.last_line = text.to_string();
        (Verdict::wrong("skipped_step", "a step of the next group where a summary line is due"), next)
    }

    /// Returns the verifier state before golden step `position`.
    fn state_before(&self, position: usize) -> MultState {
        let mut state = self.initial_state();
        for (_, line) in &self.golden[..position] {
            let text = line.render();
            state = self.check(&state, line, &text).1;
        }
        state
    }
}

impl StepVerifier for MultProblem {
    type State = MultState;

    fn initial_state(&self) -> MultState {
        MultProblem::initial_state(self)
    }

    fn check_line(&self, state: &MultState, text: &str) -> Checked<MultState> {
        let Some(line) = Line::parse(text) else {
            return Checked { role: LineRole::Unreadable, verdict: Verdict::Unparseable, state: None, answer: None };
        };
        let (verdict, next) = self.check(state, &line, text);
        let (role, answer) = match &line {
            Line::Answer { digits } => (LineRole::Answer, Some(digits.clone())),
            _ => (LineRole::Step, None),
        };
        Checked { role, verdict, state: Some(next), answer }
    }

    fn correct_answer(&self) -> String {
        (u128::from(self.a) * u128::from(self.b)).to_string()
    }
}

impl Problem for MultProblem {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "a": self.a, "b": self.b })
    }

    fn prompt(&self) -> String {
        format!("{}*{}\n", self.a, self.b)
    }

    fn golden_steps(&self) -> Vec<String> {
        self.golden.iter().map(|(_, line)| line.render()).collect()
    }

    fn answer(&self) -> String {
        self.correct_answer()
    }

    fn annotate(&self, output: &str, recognition: &str) -> Annotation {
        annotate::annotate(self, output, recognition)
    }

    fn corrupt_step(&self, position: usize, kind: &str, rng: &mut Rng) -> Option<String> {
        let (slot, line) = self.golden.get(position)?.clone();
        let state = self.state_before(position);
        let pick = |rng: &mut Rng, options: &[u8]| rng.choose(options).copied();

        let wrong = match (kind, &line) {
            ("product_digit", Line::Product { b, a, carry, value })
            | ("add_digit", Line::Add { x: b, y: a, carry, value }) => {
                let v = *value as i32;
                let options: Vec<u8> = [v + 1, v - 1, v + 10, v - 10, (v % 10) * 10 + v / 10]
                    .into_iter()
                    .filter(|&w| (0..=99).contains(&w) && w != v)
                    .map(|w| w as u8)
                    .collect();
                let value = pick(rng, &options)?;
                rebuild(&line, *b, *a, *carry, value)
            }
            ("carry", Line::Product { b, a, carry, .. }) | ("add_carry", Line::Add { x: b, y: a, carry, .. }) => {
                let limit = if kind == "carry" { 8 } else { 1 };
                let options: Vec<u8> = if *carry == 0 {
                    (1..=limit.max(2)).collect()
                } else {
                    (0..=limit.max(*carry + 1)).filter(|c| c != carry).collect()
                };
                let wrong_carry = pick(rng, &options)?;
                let value = if kind == "carry" { b * a + wrong_carry } else { b + a + wrong_carry };
                rebuild(&line, *b, *a, wrong_carry, value)
            }
            ("operand", Line::Product { .. } | Line::Add { .. }) => self.corrupt_operand(&state, slot, &line, rng)?,
            ("skipped_step", Line::Product { .. } | Line::Add { .. }) => {
                let following = self.golden.get(position + 1)?;
                let same_group = match (slot, following.0) {
                    (Slot::Product { j, .. }, Slot::Product { j: j2, .. }) => j == j2,
                    (Slot::Add { m, .. }, Slot::Add { m: m2, .. }) => m == m2,
                    _ => false,
                };
                let operands = |line: &Line| match *line {
                    Line::Product { b, a, .. } => (b, a),
                    Line::Add { x, y, .. } => (x, y),
                    _ => (u8::MAX, u8::MAX),
                };
                if !same_group || operands(&following.1) == operands(&line) {
                    return None;
                }
                // A step equal to the line before it reads as a repetition instead.
                let previous = position.checked_sub(1).map(|p| self.golden[p].1.render());
                if previous.as_deref() == Some(following.1.render().as_str()) {
                    return None;
                }
                following.1.render()
            }
            ("repeated_step", Line::Product { .. } | Line::Add { .. }) => {
                let previous = position.checked_sub(1).and_then(|p| self.golden.get(p))?;
                if previous.1.render() == line.render() {
                    return None;
                }
                match (&previous.1, &line) {
                    (Line::Product { b, a, .. }, Line::Product { b: b2, a: a2, .. })
                    | (Line::Add { x: b, y: a, .. }, Line::Add { x: b2, y: a2, .. })
                        if (b, a) != (b2, a2) =>
                    {
                        previous.1.render()
                    }
                    _ => return None,
                }
            }
            ("shift", Line::Partial { label, digits }) => {
                let j = label - 1;
                let core = &digits[..digits.len() - j];
                let mut zeros = vec![j + 1];
                if j > 0 {
                    zeros.push(j - 1);
                }
                let count = *rng.choose(&zeros)?;
                format!("p{label}={core}{}", "0".repeat(count))
            }
            ("summary", Line::Partial { label, digits }) | ("summary", Line::Sum { label, digits }) => {
                let shift = if let Line::Partial { .. } = line { label - 1 } else { 0 };
                let core = &digits[..digits.len() - shift];
                // Dropping a trailing zero of the digits reads as a shift, not a
                // summary error, so such draws are redrawn.
                let wrong = (0..8)
                    .filter_map(|_| corrupt_digits(core, rng).map(|w| w + &"0".repeat(shift)))
                    .find(|wrong| !(wrong.starts_with(core) && wrong[core.len()..].bytes().all(|b| b == b'0')))?;
                match line {
                    Line::Partial { .. } => format!("p{label}={wrong}"),
                    _ => format!("s{label}={wrong}"),
                }
            }
            ("final_answer", Line::Answer { digits }) => format!("answer={}", corrupt_digits(digits, rng)?),
            _ => return None,
        };
        Some(wrong)
    }
}

/// Rewrites a digit step with new carry and value, keeping its operator.
fn rebuild(line: &Line, left: u8, right: u8, carry: u8, value: u8) -> String {
    match line {
        Line::Product { .. } => Line::Product { b: left, a: right, carry, value }.render(),
        _ => Line::Add { x: left, y: right, carry, value }.render(),
    }
}

/// Changes, drops or swaps digits of a number so that it differs from `digits`.
fn corrupt_digits(digits: &str, rng: &mut Rng) -> Option<String> {
    let bytes = digits.as_bytes();
    let swaps: Vec<usize> = (0..bytes.len().saturating_sub(1)).filter(|&p| bytes[p] != bytes[p + 1]).collect();
    let choice = rng.below(3);
    let mut out = bytes.to_vec();
    match choice {
        0 if !swaps.is_empty() => {
            let p = *rng.choose(&swaps)?;
            out.swap(p, p + 1);
        }
        1 if bytes.len() > 1 => {
            out.remove(rng.below(bytes.len() as u64) as usize);
        }
        _ => {
            let p = rng.below(bytes.len() as u64) as usize;
            let old = bytes[p] - b'0';
            let delta = 1 + rng.below(9) as u8;
            out[p] = b'0' + (old + delta) % 10;
        }
    }
    let wrong = String::from_utf8(out).ok()?;
    (wrong != digits).then_some(wrong)
}

impl MultProblem {
    /// Writes a step with one operand copied from the wrong place: a neighbouring
    /// digit of the same number, or another digit when no neighbour is usable.
    fn corrupt_operand(&self, state: &MultState, slot: Slot, line: &Line, rng: &mut Rng) -> Option<String> {
        let (left, right, carry) = match *line {
            Line::Product { b, a, carry, .. } => (b, a, carry),
            Line::Add { x, y, carry, .. } => (x, y, carry),
            _ => return None,
        };
        // Operand pairs the verifier would read as a skipped or repeated step.
        let (index, group_slot): (usize, Box<dyn Fn(usize) -> Slot>) = match slot {
            Slot::Product { j, i } => (i, Box::new(move |i| Slot::Product { j, i })),
            Slot::Add { m, k } => (k, Box::new(move |k| Slot::Add { m, k })),
            _ => return None,
        };
        let taken: Vec<(u8, u8)> = (0..=index + 1).filter_map(|n| self.operands(state, group_slot(n))).collect();

        let mut options: Vec<(u8, u8)> = Vec::new();
        let (left_pool, right_pool): (Vec<u8>, Vec<u8>) = match slot {
            Slot::Product { .. } => (self.b_digits.clone(), self.a_digits.clone()),
            _ => {
                let column = |number: &str| (0..number.len()).map(|k| digit_at(number, k)).collect::<Vec<u8>>();
                let Slot::Add { m, .. } = slot else { return None };
                (column(&state.total), column(&state.partials[m]))
            }
        };
        for &l in &left_pool {
            options.push((l, right));
        }
        for &r in &right_pool {
            options.push((left, r));
        }
        options.retain(|pair| !taken.contains(pair) && *pair != (left, right));
        if options.is_empty() {
            for d in 0..=9u8 {
                options.push((left, d));
            }
            options.retain(|pair| !taken.contains(pair) && *pair != (left, right));
        }
        let (l, r) = *rng.choose(&options)?;
        let value = match line {
            Line::Product { .. } => l * r + carry,
            _ => l + r + carry,
        };
        Some(rebuild(line, l, r, carry, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_RECOGNITION;

    fn verdicts(problem: &MultProblem, lines: &[&str]) -> Vec<Option<String>> {
        let annotation = problem.annotate(&lines.join("\n"), DEFAULT_RECOGNITION);
        annotation
            .steps
            .iter()
            .map(|step| match &step.verdict {
                Verdict::Correct => None,
                Verdict::Propagated => Some("propagated".to_string()),
                other => other.error_kind().map(str::to_string).or(Some(format!("{other:?}"))),
            })
            .collect()
    }

    #[test]
    fn golden_trace_of_83_times_46() {
        let problem = MultProblem::new(83, 46);
        let expected = [
            "6*3+0=18",
            "6*8+1=49",
            "p1=498",
            "4*3+0=12",
            "4*8+1=33",
            "p2=3320",
            "8+0+0=08",
            "9+2+0=11",
            "4+3+1=08",
            "0+3+0=03",
            "s1=3818",
            "answer=3818",
        ];
        assert_eq!(problem.golden_steps(), expected);
        assert_eq!(83 * 46, 3818);
    }

    #[test]
    fn dropped_carry_then_consistent_lines_are_propagated() {
        let problem = MultProblem::new(83, 46);
        let lines = ["6*3+0=18", "6*8+0=48", "p1=488", "4*3+0=12", "4*8+1=33", "p2=3320"];
        let expected = [None, Some("carry"), Some("propagated"), None, None, None];
        let expected: Vec<Option<String>> = expected.iter().map(|k| k.map(str::to_string)).collect();
        assert_eq!(verdicts(&problem, &lines), expected);
    }

    #[test]
    fn hand_written_errors_get_their_kinds() {
        let problem = MultProblem::new(83, 46);
        let prefix = ["6*3+0=18", "6*8+1=49", "p1=498", "4*3+0=12", "4*8+1=33"];
        let cases = [
            ("p2=332", "shift"),
            ("p2=33200", "shift"),
            ("p2=3220", "summary"),
            ("p1=3320", "summary"),
            ("4*8+0=32", "repeated_step"),
            ("answer=3818", "skipped_step"),
            ("8+0+0=08", "skipped_step"),
        ];
        for (line, kind) in cases {
            let mut lines = prefix.to_vec();
            lines.push(line);
            let got = verdicts(&problem, &lines).pop().flatten();
            assert_eq!(got.as_deref(), Some(kind), "line {line}");
        }
        let product_cases = [
            ("6*3+0=19", "product_digit"),
            ("6*8+0=48", "skipped_step"),
            ("6*2+0=12", "operand"),
            ("6*3+1=19", "carry"),
        ];
        for (line, kind) in product_cases {
            let got = verdicts(&problem, &[line]).pop().flatten();
            assert_eq!(got.as_deref(), Some(kind), "line {line}");
        }
        let dropped = verdicts(&problem, &prefix[..4].iter().copied().chain(["4*8+0=32"]).collect::<Vec<_>>());
        assert_eq!(dropped.last().cloned().flatten().as_deref(), Some("carry"));
        let repeated = verdicts(&problem, &["6*3+0=18", "6*8+1=49", "6*8+1=49"]).pop().flatten();
        assert_eq!(repeated.as_deref(), Some("repeated_step"));
        let after = verdicts(&problem, &[&problem.golden_steps().join("\n"), "6*3+0=18"]).pop().flatten();
        assert_eq!(after.as_deref(), Some("after_answer"));
    }

    #[test]
    fn wrong_answer_line_scores_zero() {
        let problem = MultProblem::new(83, 46);
        let mut lines = problem.golden_steps();
        lines.pop();
        lines.push("answer=3881".to_string());
        let annotation = problem.annotate(&lines.join("\n"), DEFAULT_RECOGNITION);
        assert_eq!(annotation.score, 0.0);
        assert_eq!(annotation.first_error.unwrap().kind, "final_answer");
    }
}
