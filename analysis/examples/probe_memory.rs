//! Peak memory of each analysis query on a run: `cargo run --release --example probe_memory -- RUN_DIR`.
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: probe_memory RUN_DIR")?,
    );
    let src = q::discover(&[dir])?;
    let base = q::scan(&src)?;
    let lf = q::with_window(&base, 1_800_000_000_000_000, 5.0);
    let step = |name: &str,
                f: &dyn Fn() -> Result<(), Box<dyn std::error::Error>>|
     -> Result<(), Box<dyn std::error::Error>> {
        reset();
        let t = std::time::Instant::now();
        f()?;
        println!(
            "{name:<20} {:>6.2} s {:>8.0} MB peak",
            t.elapsed().as_secs_f64(),
            peak_mb()
        );
        Ok(())
    };
    step("per_endpoint", &|| {
        q::per_endpoint(&lf, &src.targets, 5000.0)?;
        Ok(())
    })?;
    step("timeline", &|| {
        q::timeline(
            &lf,
            1_800_000_000_000_000,
            5.0,
            1_800_000_000_000_000 + 5_000_000_000,
        )?;
        Ok(())
    })?;
    step("endpoint_windows", &|| {
        q::endpoint_windows(&lf, 5.0)?;
        Ok(())
    })?;
    step("errors", &|| {
        q::patterns(&lf, 0)?;
        Ok(())
    })?;
    step("models", &|| {
        q::usage(&lf)?;
        Ok(())
    })?;
    step("percentile_curves", &|| {
        q::percentile_curves(&lf, &[0.5, 0.9, 0.99])?;
        Ok(())
    })?;
    Ok(())
}
