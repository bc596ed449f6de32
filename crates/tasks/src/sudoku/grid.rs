//! Sudoku grids: parsing, candidate sets, a solution counter, the naked-single
//! solver and the puzzle generator.

use crate::{Rng, TaskError};

/// A square Sudoku grid with rectangular boxes; 0 marks an empty cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    pub size: usize,
    pub box_rows: usize,
    pub box_cols: usize,
    pub cells: Vec<u8>,
}

/// The units (row, column, box) a digit can conflict in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Row,
    Column,
    Box,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Row => "row",
            Unit::Column => "column",
            Unit::Box => "box",
        }
    }
}

/// Bit `d` set means digit `d` is possible (bit 0 unused).
pub type DigitMask = u16;

/// The result of solving with naked singles only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinglesOutcome {
    /// Every empty cell was filled; the placements in order, with each cell's
    /// candidate set (a single digit) at the time.
    Solved(Vec<(usize, u8)>),
    /// No empty cell had exactly one candidate after this many placements.
    Stuck { placed: usize, empty: usize },
}

impl Grid {
    pub fn empty(size: usize) -> Self {
        let (box_rows, box_cols) = box_shape(size);
        Self { size, box_rows, box_cols, cells: vec![0; size * size] }
    }

    /// Reads a puzzle of 16 or 81 characters: digits for givens, '.' or '0' for blanks.
    pub fn parse(text: &str) -> Result<Self, TaskError> {
        let text = text.trim();
        let count = text.chars().count();
        let size = match count {
            16 => 4,
            81 => 9,
            _ => {
                return Err(TaskError::InvalidPuzzle(format!(
                    "'{text}' has {count} characters; expected 16 (4x4) or 81 (9x9), \
                     with '.' or '0' for blanks"
                )));
            }
        };
        let mut grid = Grid::empty(size);
        for (index, ch) in text.chars().enumerate() {
            grid.cells[index] = match ch {
                '.' | '0' => 0,
                '1'..='9' if (ch as u8 - b'0') as usize <= size => ch as u8 - b'0',
                _ => {
                    return Err(TaskError::InvalidPuzzle(format!(
                        "character '{ch}' at position {} is not allowed in a {size}x{size} puzzle; \
                         use digits 1 to {size}, '.' or '0'",
                        index + 1
                    )));
                }
            };
        }
        grid.check_givens()?;
        Ok(grid)
    }

    /// Returns the grid as one line, '.' for blanks.
    pub fn to_line(&self) -> String {
        self.cells.iter().map(|&d| if d == 0 { '.' } else { char::from(b'0' + d) }).collect()
    }

    /// Returns the grid as `size` lines of `size` characters, '.' for blanks.
    pub fn to_rows(&self) -> Vec<String> {
        let line = self.to_line();
        (0..self.size).map(|r| line[r * self.size..(r + 1) * self.size].to_string()).collect()
    }

    pub fn filled(&self) -> usize {
        self.cells.iter().filter(|&&d| d != 0).count()
    }

    pub fn is_full(&self) -> bool {
        self.cells.iter().all(|&d| d != 0)
    }

    fn box_of(&self, cell: usize) -> usize {
        let (row, col) = (cell / self.size, cell % self.size);
        (row / self.box_rows) * (self.size / self.box_cols) + col / self.box_cols
    }

    /// The unit in which `digit` already stands, if placing it at `cell` would
    /// repeat it; `cell` itself is not looked at.
    pub fn conflict(&self, cell: usize, digit: u8) -> Option<Unit> {
        let (row, col) = (cell / self.size, cell % self.size);
        let cell_box = self.box_of(cell);
        for other in 0..self.cells.len() {
            if other == cell || self.cells[other] != digit {
                continue;
            }
            if other / self.size == row {
                return Some(Unit::Row);
            }
            if other % self.size == col {
                return Some(Unit::Column);
            }
            if self.box_of(other) == cell_box {
                return Some(Unit::Box);
            }
        }
        None
    }

    /// Returns the digits that conflict with nothing in the row, column and box of `cell`.
    pub fn candidates(&self, cell: usize) -> DigitMask {
        let all: DigitMask = ((1u32 << (self.size + 1)) - 2) as DigitMask;
        let (row, col) = (cell / self.size, cell % self.size);
        let cell_box = self.box_of(cell);
        let mut used: DigitMask = 0;
        for other in 0..self.cells.len() {
            let digit = self.cells[other];
            if other == cell || digit == 0 {
                continue;
            }
            if other / self.size == row || other % self.size == col || self.box_of(other) == cell_box {
                used |= 1 << digit;
            }
        }
        all & !used
    }

    /// Rejects givens that repeat a digit in a row, column or box.
    pub fn check_givens(&self) -> Result<(), TaskError> {
        for cell in 0..self.cells.len() {
            let digit = self.cells[cell];
            if digit != 0 {
                if let Some(unit) = self.conflict(cell, digit) {
                    return Err(TaskError::InvalidPuzzle(format!(
                        "contradictory givens: digit {digit} at r{}c{} repeats in its {}",
                        cell / self.size + 1,
                        cell % self.size + 1,
                        unit.name()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Counts solutions by backtracking, stopping at `limit`. Independent of the
    /// naked-single solver, so each checks the other in the generator.
    pub fn count_solutions(&self, limit: usize) -> usize {
        let mut work = self.clone();
        let mut count = 0;
        work.search(limit, &mut count, &mut None);
        count
    }

    /// Returns the first solution found, if any.
    pub fn solve(&self) -> Option<Grid> {
        let mut work = self.clone();
        let mut found = None;
        let mut count = 0;
        work.search(1, &mut count, &mut found);
        found
    }

    fn search(&mut self, limit: usize, count: &mut usize, found: &mut Option<Grid>) {
        // Branch on the empty cell with the fewest candidates.
        let mut best: Option<(usize, DigitMask)> = None;
        for cell in 0..self.cells.len() {
            if self.cells[cell] != 0 {
                continue;
            }
            let mask = self.candidates(cell);
            if best.is_none_or(|(_, m)| mask.count_ones() < m.count_ones()) {
                best = Some((cell, mask));
                if mask.count_ones() <= 1 {
                    break;
                }
            }
        }
        let Some((cell, mask)) = best else {
            *count += 1;
            if found.is_none() {
                *found = Some(self.clone());
            }
            return;
        };
        for digit in 1..=self.size as u8 {
            if mask & (1 << digit) == 0 {
                continue;
            }
            self.cells[cell] = digit;
            self.search(limit, count, found);
            self.cells[cell] = 0;
            if *count >= limit {
                return;
            }
        }
    }

    /// Fills the grid with naked singles only: at each step the first empty cell,
    /// in row-major order, that has exactly one candidate.
    pub fn solve_singles(&self) -> SinglesOutcome {
        let mut work = self.clone();
        let mut placements = Vec::new();
        loop {
            let mut empty = 0;
            let mut single = None;
            for cell in 0..work.cells.len() {
                if work.cells[cell] != 0 {
                    continue;
                }
                empty += 1;
                let mask = work.candidates(cell);
                if mask.count_ones() == 1 {
                    single = Some((cell, mask.trailing_zeros() as u8));
                    break;
                }
            }
            match single {
                Some((cell, digit)) => {
                    work.cells[cell] = digit;
                    placements.push((cell, digit));
                }
                None if empty == 0 => return SinglesOutcome::Solved(placements),
                None => {
                    let empty = work.cells.iter().filter(|&&d| d == 0).count();
                    return SinglesOutcome::Stuck { placed: placements.len(), empty };
                }
            }
        }
    }

    /// Returns whether naked singles alone fill the grid.
    pub fn singles_solvable(&self) -> bool {
        matches!(self.solve_singles(), SinglesOutcome::Solved(_))
    }
}

/// Box shape (rows, columns) for a grid size: 2x2 boxes for 4x4, 3x3 for 9x9.
pub fn box_shape(size: usize) -> (usize, usize) {
    match size {
        4 => (2, 2),
        9 => (3, 3),
        _ => unreachable!("grid sizes are 4 or 9, checked by the callers"),
    }
}

/// Makes a random complete grid.
fn random_solution(size: usize, rng: &mut Rng) -> Grid {
    fn fill(grid: &mut Grid, cell: usize, rng: &mut Rng) -> bool {
        if cell == grid.cells.len() {
            return true;
        }
        let mask = grid.candidates(cell);
        let mut digits: Vec<u8> = (1..=grid.size as u8).filter(|d| mask & (1 << d) != 0).collect();
        rng.shuffle(&mut digits);
        for digit in digits {
            grid.cells[cell] = digit;
            if fill(grid, cell + 1, rng) {
                return true;
            }
        }
        grid.cells[cell] = 0;
        false
    }
    let mut grid = Grid::empty(size);
    // A partial grid with no conflicts always completes for sizes 4 and 9 when
    // filled in row-major order with backtracking.
    let complete = fill(&mut grid, 0, rng);
    debug_assert!(complete);
    grid
}

/// Makes a puzzle with exactly `givens` givens, a unique solution, and a
/// naked-single solution path. Returns (puzzle, solution), or `None` when
/// `attempts` random solutions all stalled above the requested count.
pub fn generate(size: usize, givens: usize, rng: &mut Rng, attempts: usize) -> Option<(Grid, Grid)> {
    for _ in 0..attempts {
        let solution = random_solution(size, rng);
        let mut puzzle = solution.clone();
        let mut order: Vec<usize> = (0..size * size).collect();
        rng.shuffle(&mut order);
        for cell in order {
            if puzzle.filled() == givens {
                break;
            }
            let digit = puzzle.cells[cell];
            puzzle.cells[cell] = 0;
            if !puzzle.singles_solvable() {
                puzzle.cells[cell] = digit;
            }
        }
        if puzzle.filled() == givens && puzzle.count_solutions(2) == 1 {
            return Some((puzzle, solution));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_bad_length_and_characters() {
        assert!(Grid::parse("123").is_err());
        assert!(Grid::parse("1234341221434325").is_err());
        assert!(Grid::parse("12x4341221434321").is_err());
        assert!(Grid::parse("1.3.............").is_ok());
    }

    #[test]
    fn parse_rejects_repeated_givens() {
        let err = Grid::parse("11..............").unwrap_err().to_string();
        assert!(err.contains("contradictory givens"), "{err}");
    }

    #[test]
    fn solution_counter_sees_several_solutions() {
        assert_eq!(Grid::parse("................").unwrap().count_solutions(2), 2);
        assert_eq!(Grid::parse("1234341221434321").unwrap().count_solutions(2), 1);
    }

    #[test]
    fn known_hard_9x9_is_unique_but_not_singles_solvable() {
        // Arto Inkala's 2012 puzzle, published as needing far more than singles.
        let grid =
            Grid::parse("8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4..").unwrap();
        assert_eq!(grid.count_solutions(2), 1);
        assert!(!grid.singles_solvable());
    }

    #[test]
    fn generated_9x9_is_unique_and_singles_solvable() {
        let mut rng = Rng::new(3);
        let (puzzle, solution) = generate(9, 36, &mut rng, 20).unwrap();
        assert_eq!(puzzle.filled(), 36);
        assert_eq!(puzzle.count_solutions(2), 1);
        assert_eq!(puzzle.solve(), Some(solution));
        assert!(puzzle.singles_solvable());
    }
}
