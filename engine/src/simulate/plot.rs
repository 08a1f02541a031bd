//! The simulation's plot: two panels (booked-category entropy, distinct categories per
//! user) with one line per pipeline, as an SVG drawn by plotters without any font file.

use std::path::Path;

use plotters::prelude::*;

use super::Simulation;
use crate::error::EngineError;

fn plot_error(e: impl std::fmt::Display) -> EngineError {
    EngineError::Data(format!("plotting the simulation: {e}"))
}

/// Writes the plot of `sim` to `path`.
pub(super) fn write_svg(sim: &Simulation, path: &Path) -> Result<(), EngineError> {
    let root = SVGBackend::new(path, (960, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let panels = root.split_evenly((1, 2));
    type Series = fn(&super::MonthPoint) -> f64;
    let metrics: [(&str, Series); 2] = [
        ("booked-category entropy (bits)", |p| {
            p.booked_category_entropy
        }),
        ("distinct categories per user", |p| {
            p.distinct_categories_per_user
        }),
    ];
    for (panel, (title, value)) in panels.iter().zip(metrics) {
        let values: Vec<f64> = sim.points.iter().map(value).collect();
        let lo = values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .min(0.0);
        let hi = values.iter().copied().fold(0.0, f64::max).max(0.1) * 1.1;
        let mut chart = ChartBuilder::on(panel)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..sim.months.max(1) as f64, lo..hi)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("month")
            .light_line_style(WHITE)
            .draw()
            .map_err(plot_error)?;
        for (pipeline, color) in [("relevance", RED), ("default", BLUE)] {
            let line: Vec<(f64, f64)> = sim
                .series(pipeline)
                .into_iter()
                .map(|p| (p.month as f64, value(p)))
                .collect();
            chart
                .draw_series(LineSeries::new(line, color.stroke_width(2)))
                .map_err(plot_error)?
                .label(if pipeline == "default" {
                    "default pipeline"
                } else {
                    "relevance only"
                })
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(plot_error)?;
    }
    root.present().map_err(plot_error)?;
    Ok(())
}
