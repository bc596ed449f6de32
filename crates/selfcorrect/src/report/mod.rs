//! The run report: `report.md`, a self-contained `report.html` and the SVG
//! charts under `plots/`, all built from `results.json` alone, so
//! `selfcorrect report RUN_DIR` rebuilds the same report from saved results.

mod document;
mod findings;
pub mod format;
mod plots;
pub mod results;

use std::fs;
use std::path::Path;

use anyhow::Context;
use selfcorrect_eval::{Estimate, Metrics};

use document::{Block, Document};
use format::{estimate, percent_points};
use plots::Series;
use results::{CellResults, RunResults};

/// Reads `run_dir/results.json` and writes the report files beside it.
pub fn write_report(run_dir: &Path) -> anyhow::Result<()> {
    let path = run_dir.join("results.json");
    let text = fs::read_to_string(&path).with_context(|| format!("failed to read {}", path.display()))?;
    let results: RunResults = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a valid results file; rerun the experiment to rewrite it", path.display())
    })?;
    let document = build(&results);

    let plots = run_dir.join("plots");
    fs::create_dir_all(&plots).with_context(|| format!("failed to create {}", plots.display()))?;
    for block in &document.blocks {
        if let Block::Figure { file, svg, .. } = block {
            write_atomic(&plots.join(file), svg)?;
        }
    }
    write_atomic(&run_dir.join("report.md"), &document.to_markdown())?;
    write_atomic(&run_dir.join("report.html"), &document.to_html())?;
    Ok(())
}

fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let temporary = crate::io::temporary_path(path);
    fs::write(&temporary, text).with_context(|| format!("failed to write {}", temporary.display()))?;
    fs::rename(&temporary, path)
        .with_context(|| format!("failed to move {} to {}", temporary.display(), path.display()))
}

/// The measures in the main table: label and accessor.
pub(crate) const MEASURES: &[(&str, fn(&Metrics) -> &Estimate)] = &[
    ("accuracy", |m| &m.accuracy),
    ("error rate per step", |m| &m.error_rate_per_step),
    ("recognition rate", |m| &m.recognition_rate),
    ("false-alarm rate", |m| &m.false_alarm_rate),
    ("correction rate", |m| &m.correction_rate),
    ("parroting rate", |m| &m.parroting_rate),
    ("different wrong step", |m| &m.different_wrong_rate),
    ("accuracy with recognition", |m| &m.accuracy_with_recognition),
    ("accuracy without recognition", |m| &m.accuracy_without_recognition),
    ("rescued by a correction", |m| &m.rescued),
    ("no answer", |m| &m.no_answer),
];

pub fn build(results: &RunResults) -> Document {
    let mut doc = Document { title: format!("selfcorrect report: {}", results.name), blocks: Vec::new() };
    let env = &results.environment;
    doc.push(Block::Paragraph(format!(
        "FT (fine-tuning on clean traces) against EIFT (fine-tuning on traces with injected errors, each \
         followed by the recognition phrase and the correct step), trained from the same base model with \
         equal compute. Intervals are 95%: Wilson for shares of rollouts, a bootstrap over rollouts for \
         rates of events. Run from {} to {} ({:.0} s) on {} ({} cores), {}, selfcorrect {}, burn {}.",
        env.started,
        env.finished,
        env.wall_seconds,
        env.cpu,
        env.cores,
        env.os,
        env.selfcorrect_version,
        env.burn_version
    )));

    doc.push(Block::Heading(2, "Findings".into()));
    let findings: Vec<String> = results.cells.iter().flat_map(findings::findings).collect();
    doc.push(Block::List(findings));

    doc.push(Block::Heading(2, "Accuracy".into()));
    doc.push(accuracy_figure(results));

    for cell in &results.cells {
        cell_section(&mut doc, cell);
    }

    doc.push(Block::Heading(2, "Resolved config".into()));
    doc.push(Block::Code(results.config.clone()));
    doc
}

fn cell_section(doc: &mut Document, cell: &CellResults) {
    let slug = format!("{}-{}", cell.task, cell.family);
    doc.push(Block::Heading(2, format!("{} / {} ({} parameters)", cell.task, cell.family, cell.parameters)));

    for (title, pick) in [
        ("Free rollouts", (|a| &a.rollouts) as fn(&results::ArmResults) -> &Metrics),
        ("Synthetic-error prefills", |a| &a.synthetic_prefill),
        ("On-policy-error prefills", |a| &a.on_policy_prefill),
    ] {
        doc.push(Block::Heading(3, title.into()));
        if title != "Free rollouts" {
            doc.push(Block::Paragraph(
                "Measured over the whole trace, forced prefix included: the prefix's lines count as steps, \
                 and its last line is the error whose recognition is measured."
                    .into(),
            ));
        }
        let mut header = vec!["measure".to_string()];
        header.extend(cell.arms.iter().map(|a| a.arm.to_uppercase()));
        let mut rows: Vec<Vec<String>> = MEASURES
            .iter()
            .map(|(label, get)| {
                let mut row = vec![label.to_string()];
                row.extend(cell.arms.iter().map(|arm| estimate(get(pick(arm)))));
                row
            })
            .collect();
        rows.insert(0, {
            let mut row = vec!["rollouts".to_string()];
            row.extend(cell.arms.iter().map(|arm| pick(arm).rollouts.to_string()));
            row
        });
        if title == "Free rollouts" {
            if let Some(diff) = &cell.accuracy_difference {
                header.push("EIFT − FT (paired)".into());
                for row in &mut rows {
                    row.push(if row[0] == "accuracy" { percent_points(diff) } else { String::new() });
                }
            }
        }
        doc.push(Block::Table { header, rows });
    }

    // On-policy error kinds (from the FT model's free rollouts) beside the
    // synthetic mix injected into the EIFT training data.
    let on_policy = cell.arm("ft").map(|a| a.rollouts.error_kinds.clone()).unwrap_or_default();
    let mut kinds: Vec<String> = cell.synthetic_mix.iter().map(|(k, _)| k.clone()).collect();
    for (kind, _) in &on_policy {
        if !kinds.contains(kind) {
            kinds.push(kind.clone());
        }
    }
    let shares = |counts: &[(String, u64)]| -> Vec<f64> {
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        kinds
            .iter()
            .map(|k| {
                let n = counts.iter().find(|(name, _)| name == k).map_or(0, |(_, n)| *n);
                if total == 0 { 0.0 } else { n as f64 / total as f64 }
            })
            .collect()
    };
    doc.push(Block::Heading(3, "Error kinds".into()));
    doc.push(Block::Figure {
        file: format!("{slug}-error-kinds.svg"),
        svg: plots::grouped_bars(
            &format!("Error kinds, {} / {}", cell.task, cell.family),
            "share of errors",
            &kinds,
            &[
                Series { name: "on-policy (FT rollouts)".into(), values: shares(&on_policy) },
                Series { name: "synthetic (EIFT data)".into(), values: shares(&cell.synthetic_mix) },
            ],
        ),
        caption: format!(
            "Share of each error kind: the FT model's own errors and the injected synthetic mix ({} / {}).",
            cell.task, cell.family
        ),
    });
    let mut rows = Vec::new();
    for kind in &kinds {
        let count = |list: &[(String, u64)]| list.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n).to_string();
        rows.push(vec![kind.clone(), count(&on_policy), count(&cell.synthetic_mix)]);
    }
    doc.push(Block::Table {
        header: vec!["kind".into(), "on-policy errors (FT)".into(), "injected (EIFT data)".into()],
        rows,
    });

    let c = cell.coverage;
    doc.push(Block::Paragraph(format!(
        "Coverage of on-policy errors by the synthetic error models: {} mined, {} of a kind the models produce, \
         {} aligned with a golden position, {} of those an exact synthetic step.",
        c.mined, c.kind_in_taxonomy, c.aligned, c.exact_step
    )));

    doc.push(Block::Heading(3, "Recognition after an error".into()));
    let mut categories = Vec::new();
    let mut rates: [Vec<Estimate>; 3] = Default::default();
    for arm in &cell.arms {
        for (source, metrics) in [("synthetic", &arm.synthetic_prefill), ("on-policy", &arm.on_policy_prefill)] {
            categories.push(format!("{} {source}", arm.arm.to_uppercase()));
            rates[0].push(metrics.recognition_rate);
            rates[1].push(metrics.correction_rate);
            rates[2].push(metrics.parroting_rate);
        }
    }
    let [recognition, correction, parroting] = rates;
    doc.push(Block::Figure {
        file: format!("{slug}-prefill-rates.svg"),
        svg: plots::intervals(
            &format!("After an error, {} / {}", cell.task, cell.family),
            "rate",
            &categories,
            &[
                Series { name: "recognition".into(), values: recognition },
                Series { name: "correction".into(), values: correction },
                Series { name: "parroting".into(), values: parroting },
            ],
        ),
        caption: "Recognition, correction and parroting rates with 95% intervals, on synthetic and on-policy prefills."
            .into(),
    });

    doc.push(Block::Heading(3, "Training".into()));
    let curves: Vec<Series<(f64, f64)>> = cell
        .arms
        .iter()
        .map(|arm| Series {
            name: arm.arm.to_uppercase(),
            values: arm.training_curve.iter().map(|p| (p.step as f64, p.loss)).collect(),
        })
        .collect();
    doc.push(Block::Figure {
        file: format!("{slug}-training.svg"),
        svg: plots::lines(
            &format!("Training loss, {} / {}", cell.task, cell.family),
            "optimiser step",
            "loss",
            &curves,
        ),
        caption: "Training loss per optimiser step for each arm, from the shared base checkpoint.".into(),
    });
}

fn accuracy_figure(results: &RunResults) -> Block {
    let categories: Vec<String> = results.cells.iter().map(|c| format!("{} {}", c.task, c.family)).collect();
    let arms = ["ft", "eift"];
    let series: Vec<Series<Estimate>> = arms
        .iter()
        .map(|arm| Series {
            name: arm.to_uppercase(),
            values: results
                .cells
                .iter()
                .map(|c| c.arm(arm).map_or(Estimate::undefined(0, 0), |a| a.rollouts.accuracy))
                .collect(),
        })
        .collect();
    Block::Figure {
        file: "accuracy.svg".into(),
        svg: plots::intervals("Accuracy of free rollouts", "exact-answer accuracy", &categories, &series),
        caption: "Accuracy with 95% Wilson intervals, per task and model family.".into(),
    }
}
