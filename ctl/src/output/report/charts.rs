//! The HTML report's charts, drawn by plotters into SVG strings that the page inlines: each arm's
//! rate with its interval, each arm's lift with its interval, and the lift over time. Text is
//! left to the browser (plotters without its `ttf` feature reads no font).

use plotters::prelude::*;

use crate::observe::report::LiftPoint;

const WIDTH: u32 = 720;
const GREY: RGBColor = RGBColor(120, 120, 120);
const BLUE: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(230, 120, 20);
const PALETTE: [RGBColor; 4] = [BLUE, ORANGE, RGBColor(44, 160, 44), RGBColor(148, 103, 189)];

/// One row of an interval chart: a label, a point and its interval.
pub struct Row {
    /// Arm name.
    pub label: String,
    /// The estimate.
    pub value: f64,
    /// Its interval.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

/// Horizontal interval bars, one row each, values in percent of `scale` (`x 100`); `zero`: draw
/// the line at 0 (lifts).
pub fn intervals(rows: &[Row], x_label: &str, zero: bool) -> Result<String, String> {
    let mut svg = String::new();
    let height = 110 + 46 * rows.len() as u32;
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let lo = rows
            .iter()
            .map(|r| r.lower)
            .fold(if zero { 0.0 } else { f64::MAX }, f64::min);
        let hi = rows
            .iter()
            .map(|r| r.upper)
            .fold(if zero { 0.0 } else { f64::MIN }, f64::max);
        let pad = ((hi - lo) * 0.08).max(1e-3);
        let (lo, hi) = (100.0 * (lo - pad), 100.0 * (hi + pad));
        let n = rows.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(110)
            .build_cartesian_2d(lo..hi, -0.5..(n - 0.5))
            .map_err(|e| e.to_string())?;
        let label = |y: &f64| {
            let i = y.round();
            match (i - y).abs() < 1e-6 && i >= 0.0 {
                true => rows
                    .get(i as usize)
                    .map_or(String::new(), |r| r.label.clone()),
                false => String::new(),
            }
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len().max(1) * 2 + 1)
            .y_label_formatter(&label)
            .x_desc(x_label)
            .x_label_formatter(&|x| format!("{x:.1}"))
            .draw()
            .map_err(|e| e.to_string())?;
        if zero {
            chart
                .draw_series(LineSeries::new([(0.0, -0.5), (0.0, n - 0.5)], GREY))
                .map_err(|e| e.to_string())?;
        }
        for (i, r) in rows.iter().enumerate() {
            let (y, colour) = (i as f64, PALETTE[i % PALETTE.len()]);
            let bar = [(100.0 * r.lower, y), (100.0 * r.upper, y)];
            chart
                .draw_series(LineSeries::new(bar, colour.stroke_width(4)))
                .map_err(|e| e.to_string())?;
            chart
                .draw_series([Circle::new((100.0 * r.value, y), 6, colour.filled())])
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The cumulative lift of each arm over time, with its interval as a band.
pub fn lift_over_time(points: &[LiftPoint]) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let t0 = points.iter().map(|p| p.at).fold(f64::MAX, f64::min);
        let t1 = points.iter().map(|p| p.at).fold(f64::MIN, f64::max);
        // Minutes for a short history, hours otherwise.
        let (unit, unit_name) = match t1 - t0 < 7200.0 {
            true => (60.0, "minutes since the first reading"),
            false => (3600.0, "hours since the first reading"),
        };
        let hours = |t: f64| (t - t0) / unit;
        let span = hours(t1).max(1e-3);
        // Early intervals are very wide: the axis shows the lifts and a band up to three times
        // their size, and the band is cut there.
        let reach = points.iter().map(|p| p.lift.abs()).fold(0.05, f64::max) * 3.0;
        let clamp = |x: f64| 100.0 * x.clamp(-reach, reach);
        let bound = |p: &LiftPoint| [p.lift, p.lower.unwrap_or(p.lift), p.upper.unwrap_or(p.lift)];
        let lo = points.iter().flat_map(bound).map(clamp).fold(0.0, f64::min);
        let hi = points.iter().flat_map(bound).map(clamp).fold(0.0, f64::max);
        let pad = ((hi - lo) * 0.08).max(0.5);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..span, (lo - pad)..(hi + pad))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(unit_name)
            .y_desc("lift, %")
            .x_label_formatter(&|x| format!("{x:.1}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (span, 0.0)], GREY))
            .map_err(|e| e.to_string())?;
        let mut arms: Vec<&str> = points.iter().map(|p| p.arm.as_str()).collect();
        arms.dedup();
        arms.sort_unstable();
        arms.dedup();
        for (i, arm) in arms.iter().enumerate() {
            let colour = PALETTE[(i + 1) % PALETTE.len()];
            let mine: Vec<&LiftPoint> = points.iter().filter(|p| p.arm == *arm).collect();
            let band: Vec<(f64, f64)> = mine
                .iter()
                .filter_map(|p| Some((hours(p.at), clamp(p.upper?))))
                .chain(
                    mine.iter()
                        .rev()
                        .filter_map(|p| Some((hours(p.at), clamp(p.lower?)))),
                )
                .collect();
            if band.len() > 2 {
                chart
                    .draw_series([Polygon::new(band, colour.mix(0.2))])
                    .map_err(|e| e.to_string())?;
            }
            chart
                .draw_series(LineSeries::new(
                    mine.iter().map(|p| (hours(p.at), clamp(p.lift))),
                    colour.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}
