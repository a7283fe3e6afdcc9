//! Steps of submits and cancels applied as they are read (`Core::step_fused`, the fused path of
//! `Core::step_packed`): a batch runs that way only without callables, and anything that is not
//! plainly valid runs the whole batch again the usual way. A filler callable that is never
//! called forces the usual way (`step_packed` then checks everything first), so running a batch
//! with and without one must give the same bytes, or the same error and the same core. And so
//! must the steps run one at a time (`step_raw`, which never fuses).

mod common;

use std::fs;
use std::path::Path;

use common::{pack, Step, TestHooks};
use cracktrader_core::{decode_steps, Core, CoreError, NoHooks, Num, PackedError, Value};

fn bench_core() -> Core {
    // `bench.make_core_stream`'s init
    Core::new(Num::Float(10_000_000.0), true, true, Num::Float(100.0)).expect("a valid core")
}

fn fingerprint(core: &Core) -> String {
    format!("{:?}", core.snapshot())
}

/// `tests/data/core_stream_40.bin`, as values.
fn bench_steps() -> Vec<Step> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core_stream_40.bin");
    decode_steps(&fs::read(path).expect("the bench stream"))
        .expect("a well formed batch")
        .iter()
        .map(|step| {
            let values = |item: &cracktrader_core::RawItem| {
                (0..item.length().expect("a tuple"))
                    .map(|k| item.get(k))
                    .collect::<Vec<Value>>()
            };
            (
                step.events.iter().map(values).collect(),
                step.bars.iter().map(values).collect(),
            )
        })
        .collect()
}

/// Callables that are never called (no callback filler in these batches): `step_packed` then
/// takes the usual way.
fn classic_hooks() -> TestHooks {
    let mut hooks = TestHooks::default();
    hooks.filler_on = true;
    hooks
}

/// Run `steps` after `prefix` (run first, as a batch of its own) both ways, and one step at a
/// time; panics where they differ. The fused run's outcome.
fn both_ways(prefix: &[Step], steps: &[Step], context: &str) -> Result<Vec<u8>, PackedError> {
    let mut start = bench_core();
    if !prefix.is_empty() {
        start
            .step_packed(&pack(prefix), &mut NoHooks)
            .expect("a valid prefix");
    }
    let buf = pack(steps);
    let mut fused = start.clone();
    let got = fused.step_packed(&buf, &mut NoHooks);
    let mut classic = start.clone();
    let expected = classic.step_packed(&buf, &mut classic_hooks());
    match (&got, &expected) {
        (Ok(got), Ok(expected)) => assert!(got == expected, "{context}: the outputs differ"),
        // by their text: a NaN value is the same error
        _ => assert_eq!(
            format!("{got:?}"),
            format!("{expected:?}"),
            "{context}: the outcomes differ"
        ),
    }
    assert_eq!(
        fingerprint(&fused),
        fingerprint(&classic),
        "{context}: the cores differ"
    );
    // one step at a time, until the first error
    let mut single = start.clone();
    let mut single_err = None;
    for (k, (events, bars)) in steps.iter().enumerate() {
        let raw = |items: &[Vec<Value>]| -> Vec<cracktrader_core::RawItem> {
            items
                .iter()
                .map(|v| cracktrader_core::RawItem::from_values(v))
                .collect()
        };
        if let Err(err) = single.step_raw(&raw(events), &raw(bars), &mut NoHooks) {
            single_err = Some((k, err));
            break;
        }
    }
    match (&got, single_err) {
        (Ok(_), None) => {
            assert_eq!(fingerprint(&fused), fingerprint(&single), "{context}");
        }
        (Err(err), Some((k, single))) => {
            assert_eq!(err.step, Some(k), "{context}");
            assert_eq!(
                format!("{:?}", err.error),
                format!("{single:?}"),
                "{context}"
            );
            assert_eq!(fingerprint(&fused), fingerprint(&start), "{context}");
        }
        (got, single) => panic!("{context}: packed {got:?}, one at a time {single:?}"),
    }
    got
}

/// A submit event of the stream's first data: a limit order, transmitted alone.
fn submit(oref: i128) -> Vec<Value> {
    let f = Value::Float;
    vec![
        Value::Int(2),
        Value::Int(oref),
        Value::Int(0),
        Value::Bool(true),
        f(1.0),
        Value::Int(2), // EXEC_LIMIT
        f(90.0),
        f(0.0),
        f(100.0),
        f(730_000.5),
        f(0.0),
        f(0.0),
        f(0.0),
        f(0.0),
        f(0.0),
        Value::Int(-1),
        Value::Int(-1),
        Value::Bool(true),
        Value::Bool(false),
        Value::Bool(false),
        Value::Bool(false),
    ]
}

/// `submit(oref)` with a parent, an OCO target and `transmit`.
fn member(oref: i128, parent: i128, oco: i128, transmit: bool) -> Vec<Value> {
    let mut ev = submit(oref);
    ev[15] = Value::Int(parent);
    ev[16] = Value::Int(oco);
    ev[17] = Value::Bool(transmit);
    ev
}

fn cancel(oref: i128) -> Vec<Value> {
    vec![Value::Int(3), Value::Int(oref), Value::Bool(false)]
}

fn history(oref: i128) -> Vec<Value> {
    let mut ev = submit(oref);
    ev[0] = Value::Int(7);
    ev
}

/// The first steps of the stream (datas registered, orders under way), the step after them,
/// and a ref no order of the stream has.
fn setting() -> (Vec<Step>, Step, i128) {
    let steps = bench_steps();
    let prefix = steps[..10].to_vec();
    let next = steps[10].clone();
    (prefix, next, 1_000_000)
}

fn input_reason(err: &PackedError) -> String {
    match &err.error {
        CoreError::Input(e) => format!("{}: {}", e.field, e.reason),
        other => format!("{other:?}"),
    }
}

#[test]
fn the_bench_stream_runs_fused_as_it_does_the_usual_way() {
    let steps = bench_steps();
    let out = both_ways(&[], &steps, "bench stream").expect("a valid batch");
    // and in batches of every size from every step
    for size in [1, 3, 7] {
        for from in (0..steps.len()).step_by(size) {
            let to = (from + size).min(steps.len());
            both_ways(
                &steps[..from],
                &steps[from..to],
                &format!("steps {from}..{to}"),
            )
            .expect("a valid batch");
        }
    }
    assert!(out.len() > 1000);
}

#[test]
fn refs_of_a_step_are_known_to_its_later_events() {
    let (prefix, (events, bars), r) = setting();
    let with = |extra: Vec<Vec<Value>>| -> Vec<Step> {
        let mut evs = events.clone();
        evs.extend(extra);
        vec![(evs, bars.clone())]
    };
    // a cancel of an order submitted earlier in the step
    both_ways(&prefix, &with(vec![submit(r), cancel(r)]), "cancel").expect("valid");
    // a bracket submitted in one step: the children name their parent, the last leg its OCO
    // sibling; then the parent cancelled in the same step
    let bracket = vec![
        member(r, -1, -1, false),
        member(r + 1, r, -1, false),
        member(r + 2, r, r + 1, true),
    ];
    both_ways(&prefix, &with(bracket.clone()), "bracket").expect("valid");
    let mut cancelled = bracket;
    cancelled.push(cancel(r));
    both_ways(&prefix, &with(cancelled), "bracket cancelled").expect("valid");
    // an OCO pair, the second naming the first
    let pair = vec![member(r, -1, -1, true), member(r + 1, -1, r, true)];
    both_ways(&prefix, &with(pair.clone()), "oco pair").expect("valid");
    // a cancel in the next step of a fused step's order
    let mut two = with(pair);
    two.push((vec![cancel(r + 1)], bars.clone()));
    both_ways(&prefix, &two, "cancel a step later").expect("valid");
    // a history order (a step the usual way), its order then cancelled
    let hist = vec![
        (vec![history(r), submit(r + 1)], bars.clone()),
        (vec![submit(r + 2), cancel(r), cancel(r + 1)], bars.clone()),
    ];
    both_ways(&prefix, &hist, "history").expect("valid");
}

#[test]
fn errors_after_fused_events_are_the_usual_ones() {
    let (prefix, (events, bars), r) = setting();
    let stream = bench_steps();
    let (after, after_bars) = stream[11].clone();
    assert!(!after.is_empty());
    // the step of the stream after `prefix`, then the next one with `extra` after its events
    // and `last_bars` as its bars, then a last one
    let steps = |extra: Vec<Vec<Value>>, last_bars: Vec<Vec<Value>>| -> Vec<Step> {
        let mut evs = after.clone();
        evs.extend(extra);
        vec![
            (events.clone(), bars.clone()),
            (evs, last_bars),
            (vec![submit(r + 50)], stream[12].1.clone()),
        ]
    };
    let bars = after_bars;
    let refused = |steps: Vec<Step>, context: &str| -> PackedError {
        both_ways(&prefix, &steps, context).expect_err(context)
    };
    // a duplicate ref within a step
    let err = refused(steps(vec![submit(r), submit(r)], bars.clone()), "dup");
    assert_eq!(err.step, Some(1));
    assert_eq!(input_reason(&err), "ref: duplicate order ref");
    // a duplicate of a ref the core has
    let err = refused(steps(vec![submit(r), submit(1)], bars.clone()), "dup core");
    assert_eq!(input_reason(&err), "ref: duplicate order ref");
    // an unknown parent, OCO target, cancel after fused events
    let err = refused(
        steps(
            vec![submit(r), member(r + 1, r + 9, -1, true)],
            bars.clone(),
        ),
        "parent",
    );
    assert_eq!(input_reason(&err), "parent: unknown order ref");
    let err = refused(
        steps(
            vec![submit(r), member(r + 1, -1, r + 9, true)],
            bars.clone(),
        ),
        "oco",
    );
    assert_eq!(input_reason(&err), "oco: unknown order ref");
    let err = refused(
        steps(vec![submit(r), cancel(r + 9)], bars.clone()),
        "cancel",
    );
    assert_eq!(input_reason(&err), "ref: unknown order ref");
    // a malformed value (an event of the step found by the checks item by item)
    let mut bad = submit(r + 1);
    bad[4] = Value::Float(f64::NAN);
    let err = refused(
        steps(vec![submit(r), bad.clone()], bars.clone()),
        "nan size",
    );
    assert_eq!(input_reason(&err), "size: not finite");
    // an event of another tag after fused ones: its step the usual way, the error the same
    let mut bad_cash = vec![Value::Int(5), Value::Float(f64::INFINITY)];
    let err = refused(
        steps(vec![submit(r), bad_cash.clone()], bars.clone()),
        "cash",
    );
    assert_eq!(err.step, Some(1));
    bad_cash[1] = Value::Float(5.0);
    both_ways(
        &prefix,
        &steps(vec![submit(r), bad_cash], bars.clone()),
        "set cash",
    )
    .expect("valid");
    // a bad bar after the step's events were applied: unknown, duplicate, missing, malformed
    let mut unknown = bars.clone();
    unknown[0][0] = Value::Int(99);
    let err = refused(steps(vec![submit(r)], unknown), "unknown bar");
    assert_eq!(input_reason(&err), "data: unknown data");
    let mut twice = bars.clone();
    twice.push(bars[0].clone());
    let err = refused(steps(vec![submit(r)], twice), "duplicate bar");
    assert_eq!(input_reason(&err), "data: duplicate bar");
    let err = refused(steps(vec![submit(r)], bars[1..].to_vec()), "missing bar");
    assert_eq!(input_reason(&err), "data: no bar for a registered data");
    let mut odd = bars.clone();
    odd[0][3] = Value::None;
    let err = refused(steps(vec![submit(r)], odd), "bar value");
    assert_eq!(input_reason(&err), "high: not a number");
    // the error a step later: the fused step's orders are gone with the whole batch
    let mut later = steps(vec![submit(r)], bars.clone());
    later[2].0.push(submit(r));
    let err = refused(later, "dup a step later");
    assert_eq!(err.step, Some(2));
    assert_eq!(input_reason(&err), "ref: duplicate order ref");
    // a history order's ref known to the rest of its step (cancelled: the core's KeyError)
    let err = refused(steps(vec![history(r), cancel(r)], bars), "history");
    assert_eq!(err.step, Some(1));
}
