//! Sudoku `sudoku-4x4` (2x2 boxes) and `sudoku-9x9` (3x3 boxes), solved by
//! naked singles: each step fills a cell whose candidate set has one digit.
//!
//! ```text
//! sudoku 4x4              prompt: the name, then one line per row
//! 1.3.
//! ..2.
//! .4..
//! ...1
//! r1c2{2}=2               row 1, column 2: candidate set {2}, place 2
//! ...
//! answer=1234341221434321
//! ```
//!
//! Any naked single may come next; the verifier accepts every order and judges
//! each placement on the board as written so far.

mod grid;

use serde::{Deserialize, Serialize};

pub use grid::{DigitMask, Grid, SinglesOutcome, Unit, generate};

use crate::annotate::{self, Checked, LineRole, StepVerifier, Verdict};
use crate::{Annotation, ErrorKind, Problem, Rng, Task, TaskError, item_seed};

/// The Sudoku error taxonomy, in report order.
pub const ERROR_KINDS: &[ErrorKind] = &[
    ErrorKind {
        name: "invalid_move",
        description: "a digit that already stands in the cell's row, column or box",
        synthetic: true,
    },
    ErrorKind {
        name: "non_naked_single",
        description: "the right digit in a cell that still had several candidates",
        synthetic: true,
    },
    ErrorKind {
        name: "wrong_digit",
        description: "a wrong digit with no visible conflict, in a cell with several candidates",
        synthetic: true,
    },
    ErrorKind {
        name: "filled_cell",
        description: "a digit written into a cell that is already filled",
        synthetic: true,
    },
    ErrorKind { name: "malformed_cell", description: "a cell reference outside the grid", synthetic: true },
    ErrorKind {
        name: "wrong_candidates",
        description: "a valid naked single whose stated candidate set is wrong",
        synthetic: true,
    },
    ErrorKind {
        name: "final_answer",
        description: "an answer grid that differs from the board as filled",
        synthetic: true,
    },
    ErrorKind { name: "after_answer", description: "a step written after the answer line", synthetic: false },
];

/// Default givens per size: about half the cells for 4x4, as in the published
/// study's easy setting, and a mid-range count for 9x9.
const DEFAULT_GIVENS_4: usize = 8;
const DEFAULT_GIVENS_9: usize = 36;

/// Random complete grids tried per item before generation gives up.
const GENERATION_ATTEMPTS: usize = 200;

/// The `sudoku-NxN` task, optionally with a number of givens (`sudoku-4x4-g6`).
#[derive(Debug, Clone)]
pub struct Sudoku {
    name: String,
    size: usize,
    givens: usize,
}

impl Sudoku {
    /// Builds the task from the part of its name after `sudoku-`: `4x4`, `9x9`,
    /// or either with `-gN` for N givens.
    pub fn from_spec(name: &str, spec: &str) -> Result<Self, TaskError> {
        let invalid = |reason: String| TaskError::InvalidTaskName { name: name.to_string(), reason };
        let (shape, givens) = match spec.split_once("-g") {
            Some((shape, givens)) => (shape, Some(givens)),
            None => (spec, None),
        };
        let (size, default_givens, range) = match shape {
            "4x4" => (4, DEFAULT_GIVENS_4, 4..=15),
            // Below 23 givens, puzzles that naked singles solve are so rare that generation gives
            // up: 1 of 60 items from 17 to 22 givens was generated, all 80 from 23 to 30.
            "9x9" => (9, DEFAULT_GIVENS_9, 23..=80),
            _ => return Err(invalid(format!("size '{shape}' is not supported; use 4x4 or 9x9"))),
        };
        let givens = match givens {
            None => default_givens,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if range.contains(&n) => n,
                _ => {
                    return Err(invalid(format!(
                        "givens '{text}' must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    )));
                }
            },
        };
        Ok(Self { name: name.to_string(), size, givens })
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Loads a puzzle given as a 16- or 81-character string.
    pub fn puzzle(&self, text: &str) -> Result<SudokuProblem, TaskError> {
        let grid = Grid::parse(text)?;
        if grid.size != self.size {
            return Err(TaskError::InvalidPuzzle(format!("a {0}x{0} puzzle given to task {1}", grid.size, self.name)));
        }
        SudokuProblem::new(grid)
    }
}

impl Task for Sudoku {
    fn name(&self) -> &str {
        &self.name
    }

    fn error_kinds(&self) -> &'static [ErrorKind] {
        ERROR_KINDS
    }

    fn generate(&self, seed: u64, index: u64) -> Result<Box<dyn Problem>, TaskError> {
        let mut rng = Rng::new(item_seed(&self.name, seed, index));
        let (puzzle, _) =
            generate(self.size, self.givens, &mut rng, GENERATION_ATTEMPTS).ok_or_else(|| TaskError::Generation {
                task: self.name.clone(),
                seed,
                index,
                reason: format!(
                    "no naked-single puzzle with {} givens in {GENERATION_ATTEMPTS} attempts; \
                     use more givens",
                    self.givens
                ),
            })?;
        Ok(Box::new(SudokuProblem::new(puzzle)?))
    }

    fn load(&self, problem: &serde_json::Value) -> Result<Box<dyn Problem>, TaskError> {
        let fields: SudokuFields =
            serde_json::from_value(problem.clone()).map_err(|err| TaskError::InvalidProblem {
                task: self.name.clone(),
                reason: format!("expected {{\"puzzle\": \"16 or 81 characters\"}}: {err}"),
            })?;
        Ok(Box::new(self.puzzle(&fields.puzzle)?))
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SudokuFields {
    puzzle: String,
}

/// A puzzle with a unique solution that naked singles reach.
#[derive(Debug, Clone)]
pub struct SudokuProblem {
    puzzle: Grid,
    solution: Grid,
    /// The golden placements: (cell, digit) in solving order.
    placements: Vec<(usize, u8)>,
}

impl SudokuProblem {
    /// Checks that `puzzle` has exactly one solution and that naked singles reach it.
    pub fn new(puzzle: Grid) -> Result<Self, TaskError> {
        puzzle.check_givens()?;
        match puzzle.count_solutions(2) {
            0 => return Err(TaskError::InvalidPuzzle("the puzzle has no solution".into())),
            1 => {}
            _ => return Err(TaskError::InvalidPuzzle("the puzzle has several solutions".into())),
        }
        let placements = match puzzle.solve_singles() {
            SinglesOutcome::Solved(placements) => placements,
            SinglesOutcome::Stuck { placed, empty } => {
                return Err(TaskError::InvalidPuzzle(format!(
                    "naked singles stall after {placed} placements with {empty} cells empty; \
                     the puzzle needs other techniques"
                )));
            }
        };
        let solution = puzzle.solve().expect("a puzzle with one solution has a solution");
        Ok(Self { puzzle, solution, placements })
    }

    pub fn puzzle(&self) -> &Grid {
        &self.puzzle
    }

    pub fn solution(&self) -> &Grid {
        &self.solution
    }

    fn size(&self) -> usize {
        self.puzzle.size
    }

    fn render_step(&self, row: &str, col: &str, candidates: DigitMask, digit: u8) -> String {
        let set: String =
            (1..=self.size() as u8).filter(|d| candidates & (1 << d) != 0).map(|d| char::from(b'0' + d)).collect();
        format!("r{row}c{col}{{{set}}}={digit}")
    }

    fn render_placement(&self, cell: usize, candidates: DigitMask, digit: u8) -> String {
        let (row, col) = (cell / self.size() + 1, cell % self.size() + 1);
        self.render_step(&row.to_string(), &col.to_string(), candidates, digit)
    }

    /// Returns the board before golden step `position`.
    fn board_before(&self, position: usize) -> Grid {
        let mut board = self.puzzle.clone();
        for &(cell, digit) in &self.placements[..position.min(self.placements.len())] {
            board.cells[cell] = digit;
        }
        board
    }

    fn check_placement(&self, board: &Grid, step: &Placement) -> (Verdict, Option<Grid>) {
        let size = self.size();
        let in_range = |text: &str| text.parse::<usize>().ok().filter(|n| (1..=size).contains(n));
        let (Some(row), Some(col)) = (in_range(&step.row), in_range(&step.col)) else {
            let detail = format!("cell r{}c{} is outside the {size}x{size} grid", step.row, step.col);
            return (Verdict::wrong("malformed_cell", detail), None);
        };
        let cell = (row - 1) * size + (col - 1);
        let digit = step.digit;
        let mut next = board.clone();
        next.cells[cell] = digit;

        if board.cells[cell] != 0 {
            let detail = format!("r{row}c{col} already holds {}", board.cells[cell]);
            return (Verdict::wrong("filled_cell", detail), Some(next));
        }
        if let Some(unit) = board.conflict(cell, digit) {
            let detail = format!("{digit} already stands in the {} of r{row}c{col}", unit.name());
            return (Verdict::wrong("invalid_move", detail), Some(next));
        }
        let candidates = board.candidates(cell);
        if candidates.count_ones() > 1 {
            let set = self.render_step("", "", candidates, 0);
            let set = &set[2..set.len() - 2];
            let (kind, what) = if digit == self.solution.cells[cell] {
                ("non_naked_single", "the right digit")
            } else {
                ("wrong_digit", "a wrong digit")
            };
            let detail = format!("{what}, but r{row}c{col} had candidates {set}");
            return (Verdict::wrong(kind, detail), Some(next));
        }
        if step.candidates != candidates {
            let stated = self.render_step("", "", step.candidates, 0);
            let real = self.render_step("", "", candidates, 0);
            let detail =
                format!("stated {}, the candidates are {}", &stated[2..stated.len() - 2], &real[2..real.len() - 2]);
            return (Verdict::wrong("wrong_candidates", detail), Some(next));
        }
        let verdict = if digit == self.solution.cells[cell] { Verdict::Correct } else { Verdict::Propagated };
        (verdict, Some(next))
    }

    fn parse_placement(&self, text: &str) -> Option<Placement> {
        let rest = text.strip_prefix('r')?;
        let (row, rest) = rest.split_once('c')?;
        let (col, rest) = rest.split_once('{')?;
        let (set, digit) = rest.split_once("}=")?;
        let digit = digit.trim();
        let size = self.size() as u8;
        let read_digit = |ch: char| ch.to_digit(10).map(|d| d as u8).filter(|d| (1..=size).contains(d));
        let mut digits = digit.chars();
        let digit = read_digit(digits.next()?)?;
        if digits.next().is_some() || row.len() > 3 || col.len() > 3 {
            return None;
        }
        let mut candidates: DigitMask = 0;
        for ch in set.chars().filter(|ch| !matches!(ch, ',' | ' ')) {
            candidates |= 1 << read_digit(ch)?;
        }
        Some(Placement { row: row.to_string(), col: col.to_string(), candidates, digit })
    }
}

/// A parsed placement line. Row and column stay text so that a reference
/// outside the grid can be reported as a malformed cell.
struct Placement {
    row: String,
    col: String,
    candidates: DigitMask,
    digit: u8,
}

/// The board as written, and whether the answer line has been given.
#[derive(Debug, Clone)]
pub(crate) struct SudokuState {
    board: Grid,
    answered: bool,
}

impl StepVerifier for SudokuProblem {
    type State = SudokuState;

    fn initial_state(&self) -> SudokuState {
        SudokuState { board: self.puzzle.clone(), answered: false }
    }

    fn check_line(&self, state: &SudokuState, text: &str) -> Checked<SudokuState> {
        let unreadable =
            Checked { role: LineRole::Unreadable, verdict: Verdict::Unparseable, state: None, answer: None };

        if let Some(digits) = text.strip_prefix("answer=") {
            let size = self.size();
            let valid = digits.len() == size * size && digits.bytes().all(|b| (b'1'..=b'0' + size as u8).contains(&b));
            if !valid {
                return unreadable;
            }
            let verdict = if state.answered {
                Verdict::wrong("after_answer", "a second answer line")
            } else if digits != state.board.to_line() {
                let detail = if state.board.is_full() {
                    "the answer differs from the board as filled"
                } else {
                    "an answer before every cell is filled"
                };
                Verdict::wrong("final_answer", detail)
            } else if digits == self.solution.to_line() {
                Verdict::Correct
            } else {
                Verdict::Propagated
            };
            let next = SudokuState { board: state.board.clone(), answered: true };
            return Checked { role: LineRole::Answer, verdict, state: Some(next), answer: Some(digits.to_string()) };
        }

        let Some(step) = self.parse_placement(text) else {
            return unreadable;
        };
        if state.answered {
            let verdict = Verdict::wrong("after_answer", "a placement after the answer line");
            return Checked { role: LineRole::Step, verdict, state: Some(state.clone()), answer: None };
        }
        let (verdict, board) = self.check_placement(&state.board, &step);
        let next = SudokuState { board: board.unwrap_or_else(|| state.board.clone()), answered: false };
        Checked { role: LineRole::Step, verdict, state: Some(next), answer: None }
    }

    fn correct_answer(&self) -> String {
        self.solution.to_line()
    }
}

impl Problem for SudokuProblem {
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "puzzle": self.puzzle.to_line() })
    }

    fn prompt(&self) -> String {
        let mut prompt = format!("sudoku {0}x{0}\n", self.size());
        for row in self.puzzle.to_rows() {
            prompt.push_str(&row);
            prompt.push('\n');
        }
        prompt
    }

    fn golden_steps(&self) -> Vec<String> {
        let mut board = self.puzzle.clone();
        let mut steps = Vec::with_capacity(self.placements.len() + 1);
        for &(cell, digit) in &self.placements {
            steps.push(self.render_placement(cell, board.candidates(cell), digit));
            board.cells[cell] = digit;
        }
        steps.push(format!("answer={}", self.solution.to_line()));
        steps
    }

    fn answer(&self) -> String {
        self.solution.to_line()
    }

    fn annotate(&self, output: &str, recognition: &str) -> Annotation {
        annotate::annotate(self, output, recognition)
    }

    fn corrupt_step(&self, position: usize, kind: &str, rng: &mut Rng) -> Option<String> {
        let size = self.size();
        if position == self.placements.len() {
            if kind != "final_answer" {
                return None;
            }
            let mut cells = self.solution.cells.clone();
            let pairs: Vec<(usize, usize)> =
                (0..cells.len() - 1).filter(|&c| cells[c] != cells[c + 1]).map(|c| (c, c + 1)).collect();
            let &(a, b) = rng.choose(&pairs)?;
            cells.swap(a, b);
            let line: String = cells.iter().map(|&d| char::from(b'0' + d)).collect();
            return Some(format!("answer={line}"));
        }
        let &(cell, digit) = self.placements.get(position)?;
        let board = self.board_before(position);
        let single = |d: u8| 1 << d;
        let empty_with_choice: Vec<usize> =
            (0..board.cells.len()).filter(|&c| board.cells[c] == 0 && board.candidates(c).count_ones() > 1).collect();

        let step = match kind {
            "invalid_move" => {
                let options: Vec<u8> =
                    (1..=size as u8).filter(|&d| d != digit && board.conflict(cell, d).is_some()).collect();
                let wrong = *rng.choose(&options)?;
                self.render_placement(cell, single(wrong), wrong)
            }
            "non_naked_single" => {
                let &other = rng.choose(&empty_with_choice)?;
                let right = self.solution.cells[other];
                self.render_placement(other, single(right), right)
            }
            "wrong_digit" => {
                let &other = rng.choose(&empty_with_choice)?;
                let mask = board.candidates(other);
                let options: Vec<u8> =
                    (1..=size as u8).filter(|&d| mask & (1 << d) != 0 && d != self.solution.cells[other]).collect();
                let wrong = *rng.choose(&options)?;
                self.render_placement(other, single(wrong), wrong)
            }
            "filled_cell" => {
                let filled: Vec<usize> = (0..board.cells.len()).filter(|&c| board.cells[c] != 0).collect();
                let &other = rng.choose(&filled)?;
                self.render_placement(other, single(digit), digit)
            }
            "malformed_cell" => {
                let (row, col) = ((cell / size + 1).to_string(), (cell % size + 1).to_string());
                let outside = (size + 1).to_string();
                let options =
                    [(outside.clone(), col.clone()), (row.clone(), outside), ("0".into(), col), (row, "0".into())];
                let (row, col) = rng.choose(&options)?.clone();
                self.render_step(&row, &col, single(digit), digit)
            }
            "wrong_candidates" => {
                let extra: Vec<u8> = (1..=size as u8).filter(|&d| d != digit).collect();
                let &other = rng.choose(&extra)?;
                self.render_placement(cell, single(digit) | single(other), digit)
            }
            _ => return None,
        };
        Some(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(text: &str) -> SudokuProblem {
        Sudoku::from_spec("sudoku-4x4", "4x4").unwrap().puzzle(text).unwrap()
    }

    #[test]
    fn golden_trace_places_every_blank() {
        let p = problem("1..4..12.1..43..");
        let steps = p.golden_steps();
        assert_eq!(steps.len(), 16 - p.puzzle().filled() + 1);
        assert_eq!(steps.last().unwrap(), &format!("answer={}", p.solution().to_line()));
    }

    #[test]
    fn verdicts_on_hand_written_steps() {
        // Solution 1234/3412/2143/4321; r1c2 has the candidate set {2}.
        let p = problem("1..4..12.1..43..");
        let cases = [
            ("r1c2{2}=2", None),
            ("r1c2{2}=3", Some("invalid_move")),
            ("r1c1{2}=2", Some("filled_cell")),
            ("r5c1{2}=2", Some("malformed_cell")),
            ("r1c2{24}=2", Some("wrong_candidates")),
        ];
        for (line, expected) in cases {
            let annotation = p.annotate(line, crate::DEFAULT_RECOGNITION);
            assert_eq!(annotation.steps[0].verdict.error_kind(), expected, "line {line}");
        }
    }

    #[test]
    fn several_candidates_give_non_naked_single_or_wrong_digit() {
        // Solution 1234/3412/2143/4321; r1c2 has the candidates {2, 4}.
        let p = problem("1...3.1221.3..21");
        let right = p.solution().cells[1];
        let wrong = if right == 2 { 4 } else { 2 };
        let ok = p.annotate(&format!("r1c2{{{right}}}={right}"), "x");
        assert_eq!(ok.steps[0].verdict.error_kind(), Some("non_naked_single"));
        let bad = p.annotate(&format!("r1c2{{{wrong}}}={wrong}"), "x");
        assert_eq!(bad.steps[0].verdict.error_kind(), Some("wrong_digit"));
    }
}
