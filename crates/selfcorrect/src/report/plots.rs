//! SVG charts drawn with plotters: estimates with 95% intervals, grouped bars
//! of shares, and training curves.

use plotters::prelude::*;
use selfcorrect_eval::Estimate;

const WIDTH: u32 = 760;
const HEIGHT: u32 = 380;
const PALETTE: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(255, 127, 14), RGBColor(44, 160, 44), RGBColor(214, 39, 40)];

/// One named series of a chart, one value per category.
pub struct Series<T> {
    pub name: String,
    pub values: Vec<T>,
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Points with 95% interval bars, one group per category and one offset
/// point per series. Undefined estimates are left out.
pub fn intervals(title: &str, y_label: &str, categories: &[String], series: &[Series<Estimate>]) -> String {
    render(|root| {
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(60)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..categories.len() as f64 - 0.5, 0f64..1.05f64)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len().max(1))
            .x_label_formatter(&|x| category_label(categories, *x))
            .y_desc(y_label)
            .draw()?;

        let spread = 0.6 / series.len().max(1) as f64;
        for (index, one) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let offset = (index as f64 - (series.len() as f64 - 1.0) / 2.0) * spread;
            let points: Vec<(f64, Estimate)> = one
                .values
                .iter()
                .enumerate()
                .filter(|(_, e)| e.value.is_some())
                .map(|(i, e)| (i as f64 + offset, *e))
                .collect();
            chart
                .draw_series(points.iter().map(|(x, e)| {
                    let value = e.value.unwrap_or_default();
                    ErrorBar::new_vertical(
                        *x,
                        e.low.unwrap_or(value),
                        value,
                        e.high.unwrap_or(value),
                        color.filled(),
                        8,
                    )
                }))?
                .label(one.name.clone())
                .legend(move |(x, y)| Circle::new((x + 8, y), 4, color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        Ok(())
    })
}

/// Grouped bars of shares (0 to 1), one group per category.
pub fn grouped_bars(title: &str, y_label: &str, categories: &[String], series: &[Series<f64>]) -> String {
    render(|root| {
        let top = series.iter().flat_map(|s| s.values.iter().copied()).fold(0.0f64, f64::max).max(0.1) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(80)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5f64..categories.len() as f64 - 0.5, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(categories.len().max(1))
            .x_label_formatter(&|x| category_label(categories, *x))
            .x_label_style(("sans-serif", 11).into_font().transform(FontTransform::Rotate90))
            .y_desc(y_label)
            .draw()?;

        let width = 0.8 / series.len().max(1) as f64;
        for (index, one) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            let left = -0.4 + index as f64 * width;
            chart
                .draw_series(one.values.iter().enumerate().map(|(i, value)| {
                    let x0 = i as f64 + left;
                    Rectangle::new([(x0, 0.0), (x0 + width * 0.9, *value)], color.filled())
                }))?
                .label(one.name.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 4), (x + 12, y + 4)], color.filled()));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        Ok(())
    })
}

/// Lines of (step, value) per series.
pub fn lines(title: &str, x_label: &str, y_label: &str, series: &[Series<(f64, f64)>]) -> String {
    render(|root| {
        let points = series.iter().flat_map(|s| s.values.iter());
        let (mut x_max, mut y_max) = (1.0f64, 0.0f64);
        for (x, y) in points {
            x_max = x_max.max(*x);
            if y.is_finite() {
                y_max = y_max.max(*y);
            }
        }
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..x_max, 0f64..(y_max * 1.05).max(1e-3))?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw()?;
        for (index, one) in series.iter().enumerate() {
            let color = PALETTE[index % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(
                    one.values.iter().copied().filter(|(_, y)| y.is_finite()),
                    color.stroke_width(2),
                ))?
                .label(one.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart.configure_series_labels().background_style(WHITE.mix(0.85)).border_style(BLACK).draw()?;
        Ok(())
    })
}

fn category_label(categories: &[String], x: f64) -> String {
    let index = x.round();
    if (x - index).abs() > 1e-6 || index < 0.0 {
        return String::new();
    }
    categories.get(index as usize).cloned().unwrap_or_default()
}

/// Draws into an SVG string. A drawing error leaves a chart that says so, as
/// a report with one missing chart is still worth reading.
fn render(draw: impl FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> DrawResult) -> String {
    let mut svg = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string())
            .and_then(|()| draw(root.clone()).map_err(|e| e.to_string()))
            .and_then(|()| root.present().map_err(|e| e.to_string()))
    };
    match outcome {
        Ok(()) => svg,
        Err(message) => format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"40\"><text x=\"8\" y=\"24\">chart failed: {}</text></svg>",
            message.replace('&', "&amp;").replace('<', "&lt;")
        ),
    }
}
