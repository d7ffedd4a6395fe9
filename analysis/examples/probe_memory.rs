//! Time and peak memory of each step of an analysis on a run:
//! `cargo run --release -p aurax-analysis --example probe_memory -- RUN_DIR`.
use std::path::PathBuf;

use aurax_analysis::probe as q;

fn peak_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

fn reset() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

type Step<'a> = &'a mut dyn FnMut() -> Result<(), Box<dyn std::error::Error>>;

fn step(name: &str, f: Step) -> Result<(), Box<dyn std::error::Error>> {
    reset();
    let t = std::time::Instant::now();
    f()?;
    println!(
        "{name:<20} {:>6.2} s {:>8.0} MB peak",
        t.elapsed().as_secs_f64(),
        peak_mb()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: probe_memory RUN_DIR")?,
    );
    let src = q::discover(&[dir])?;
    // Seconds 0 to 5,000 of the run in 5 s windows, from the first send.
    let mut loaded = None;
    step("load", &mut || {
        loaded = Some(q::load(&src)?);
        Ok(())
    })?;
    let loaded = loaded.ok_or("nothing loaded")?;
    let start_us = loaded
        .column("sent_us")?
        .i64()?
        .iter()
        .flatten()
        .min()
        .unwrap_or(0);
    let last_send_us = start_us + 5_000_000_000;
    let grid = q::Grid::new(start_us, last_send_us, 5.0);
    let lf = q::with_window(&q::rows(&loaded, &src.targets), &grid);
    let names = q::Names::of(&loaded)?;
    let mut ranks = None;
    step("rank latencies", &mut || {
        ranks = Some(q::Ranks::of(
            &loaded,
            &names,
            q::Ranked::SuccessLatency,
            &grid,
        )?);
        Ok(())
    })?;
    let ranks = ranks.ok_or("nothing ranked")?;
    step("per_endpoint", &mut || {
        q::per_endpoint(&lf, &ranks, &src.targets, 5000.0)?;
        Ok(())
    })?;
    let mut flows = Vec::new();
    step("flows", &mut || {
        flows = q::group_flows(&lf, "endpoint", &grid, last_send_us)?;
        Ok(())
    })?;
    step("timeline", &mut || {
        q::timeline(
            &flows,
            &ranks,
            &grid,
            (last_send_us, 0.0),
            q::WindowLoad::MostUsers,
        );
        Ok(())
    })?;
    step("endpoint_windows", &mut || {
        q::endpoint_windows(&ranks, 1000, 5.0);
        Ok(())
    })?;
    step("errors", &mut || {
        q::patterns(&q::scan(&src)?, start_us)?;
        Ok(())
    })?;
    step("models", &mut || {
        q::usage(&lf, &ranks)?;
        Ok(())
    })?;
    step("percentile_curves", &mut || {
        q::percentile_curves(&ranks, &[0.5, 0.9, 0.99]);
        Ok(())
    })?;
    Ok(())
}
