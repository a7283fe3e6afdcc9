//! Run a packed batch file through a fresh core, `N` times, and print the time per run:
//! `cargo run --release --example packed_stream -- BATCH [N]` (profiling the core without
//! Python; `bt_cracktrader.core.packed.pack_steps` writes batches).

use std::time::Instant;

use cracktrader_core::{Core, NoHooks, Num};

#[allow(clippy::print_stdout)] // the report of this profiling tool
fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: packed_stream BATCH [N]");
    let runs: usize = args
        .next()
        .map_or(20, |n| n.parse().expect("N is a number"));
    let buf = std::fs::read(&path).expect("readable batch file");
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let mut core =
            Core::new(Num::Float(10_000_000.0), true, true, Num::Float(100.0)).expect("valid core");
        let start = Instant::now();
        let out = core.step_packed(&buf, &mut NoHooks).expect("a valid batch");
        best = best.min(start.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(out);
    }
    println!("best of {runs}: {best:.3} ms");
}
