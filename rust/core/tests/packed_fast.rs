//! The fast path of validation for packed batches (`validate.rs`): a packed event or bar whose
//! values are plainly valid is decoded straight from its bytes, anything else goes through the
//! checks item by item. An item held as a `RawItem` always takes the checks, so running each
//! step both ways (`step_raw` on the decoded items, `step_packed` on the bytes) must give the
//! same outcome: the same records and state, or the same error, and the same core after it
//! (its snapshot, compared by type and bits). Over every step of the golden recordings and of
//! the `core-only` benchmark stream, and over malformed copies of their submit, history and
//! cancel events and bars: every value replaced in turn by values of every kind around every
//! boundary the checks draw.

mod common;

use std::fs;
use std::path::Path;

use common::{
    core_fixture_paths, json_value, json_values, pack, record_items, state_items, Cursor, Item,
    Step, TestHooks,
};
use cracktrader_core::{
    decode_steps, Core, CoreError, NoHooks, Num, RawItem, Value, KIND_BOOL, KIND_NONE,
    PACKED_VERSION, RESULTS_MAGIC,
};
use serde_json::Value as Json;

fn packable(value: &Value) -> bool {
    match value {
        Value::None | Value::Bool(_) | Value::Float(_) => true,
        Value::Int(v) => i64::try_from(*v).is_ok(),
        Value::BigInt { .. } | Value::Other { .. } => false,
    }
}

fn raw(items: &[Vec<Value>]) -> Vec<RawItem> {
    items.iter().map(|v| RawItem::from_values(v)).collect()
}

/// The values of a decoded item.
fn values(item: &RawItem) -> Vec<Value> {
    (0..item.length().expect("a tuple"))
        .map(|k| item.get(k))
        .collect()
}

/// `(records, state)` of a one-step results buffer.
fn unpack_one(buf: &[u8]) -> (Vec<Vec<Item>>, Vec<Item>) {
    let mut cur = Cursor { buf, pos: 0 };
    assert_eq!(cur.take(8), RESULTS_MAGIC);
    assert_eq!(cur.u32(), PACKED_VERSION as usize);
    assert_eq!(cur.u32(), 1);
    let records = (0..cur.u32()).map(|_| cur.item()).collect();
    let state = cur.item();
    assert_eq!(cur.pos, buf.len(), "trailing bytes");
    (records, state)
}

/// The core, by type and bits.
fn fingerprint(core: &Core) -> String {
    format!("{:?}", core.snapshot())
}

/// Run one step both ways on copies of `core`; panics where they differ. Returns the core
/// after the step (as the checks item by item leave it) and whether the step succeeded.
fn both_ways(core: &Core, step: &Step, context: &dyn Fn() -> String) -> (Core, bool) {
    let mut slow = core.clone();
    let expected = slow.step_raw(&raw(&step.0), &raw(&step.1), &mut NoHooks);
    let mut fast = core.clone();
    let got = fast.step_packed(&pack(std::slice::from_ref(step)), &mut NoHooks);
    let ok = match (&expected, &got) {
        (Ok(records), Ok(buf)) => {
            let expected = (
                records.iter().map(record_items).collect::<Vec<_>>(),
                state_items(&slow.state()),
            );
            assert!(
                unpack_one(buf) == expected,
                "{}: the outputs differ",
                context()
            );
            true
        }
        (Err(expected), Err(got)) => {
            assert_eq!(got.step, Some(0), "{}", context());
            // by their text: a NaN value is the same error
            assert_eq!(
                format!("{:?}", got.error),
                format!("{expected:?}"),
                "{}",
                context()
            );
            false
        }
        // an output int the layout cannot hold: the batch fails as a whole, the core as it was
        (Ok(records), Err(got)) if got.step.is_none() => {
            let big = |item: &Item| matches!(item, Item::Int(v) if i64::try_from(*v).is_err());
            let field = records
                .iter()
                .enumerate()
                .find_map(|(i, record)| {
                    let items = record_items(record);
                    let k = items.iter().position(big)?;
                    Some(format!("step 0 record {i} item {k}"))
                })
                .or_else(|| {
                    let k = state_items(&slow.state()).iter().position(big)?;
                    Some(format!("step 0 state item {k}"))
                })
                .unwrap_or_else(|| panic!("{}: refused {got:?}", context()));
            assert!(
                matches!(&got.error, CoreError::Input(e) if e.field == field
                    && e.reason == "an int beyond 64 bits cannot be packed"),
                "{}: {got:?}, expected {field}",
                context()
            );
            assert_eq!(fingerprint(&fast), fingerprint(core), "{}", context());
            return (slow, true);
        }
        _ => panic!(
            "{}: checked item by item {:?}, packed {:?}",
            context(),
            expected.as_ref().map(|_| "ok"),
            got.as_ref().map(|_| "ok")
        ),
    };
    assert_eq!(
        fingerprint(&fast),
        fingerprint(&slow),
        "{}: the cores differ",
        context()
    );
    (slow, ok)
}

const TWO_53: i128 = 1 << 53;

/// Replacements for one value: every kind, around every boundary of the checks, and the refs
/// and datas of the step (known, duplicate, parent or OCO targets).
fn replacements(step: &Step) -> Vec<Value> {
    let mut out = vec![
        Value::None,
        Value::Bool(false),
        Value::Bool(true),
        Value::Float(0.0),
        Value::Float(-0.0),
        Value::Float(1.0),
        Value::Float(2.5),
        Value::Float(-3.0),
        Value::Float(f64::NAN),
        Value::Float(f64::INFINITY),
        Value::Float(f64::NEG_INFINITY),
        Value::Float(f64::MAX),
        Value::Int(TWO_53),
        Value::Int(TWO_53 + 1),
        Value::Int(-TWO_53),
        Value::Int(-TWO_53 - 1),
        Value::Int(i128::from(i64::MAX)),
        Value::Int(i128::from(i64::MIN)),
        Value::Int(1_000_000),
    ];
    out.extend((-2..=9).map(Value::Int));
    for event in &step.0 {
        if let Some(&Value::Int(r)) = event.get(1) {
            if !out.contains(&Value::Int(r)) && matches!(event[0], Value::Int(2 | 3 | 7)) {
                out.push(Value::Int(r));
            }
        }
    }
    out
}

/// Is item `values` one the fast path reads: a submit, cancel or history event (or a bar)?
fn fast_kind(values: &[Value]) -> bool {
    matches!(values.first(), Some(Value::Int(2 | 3 | 7)))
}

/// Every single-value change (and a length off by one) of the fast-path events and the first
/// bar of `step`, each run both ways on `core`.
/// Events of a shape in `shapes` are skipped (and the shapes of the others added), and the
/// bar is changed only with `bars`.
fn malformed(
    core: &Core,
    step: &Step,
    name: &str,
    shapes: &mut Vec<Vec<Value>>,
    bars: bool,
) -> usize {
    let subs = replacements(step);
    let mut runs = 0;
    let mut variants: Vec<(String, Step)> = Vec::new();
    // one event of each shape: tag and (parent, oco, transmit) as the events carry them
    for (e, event) in step.0.iter().enumerate() {
        if !fast_kind(event) {
            continue;
        }
        let shape: Vec<Value> = [0, 15, 16, 17]
            .iter()
            .map(|&k| match event.get(k) {
                Some(Value::Int(r)) if k > 0 => Value::Int(i128::from(*r >= 0)),
                Some(v) => *v,
                None => Value::None,
            })
            .collect();
        if shapes.contains(&shape) {
            continue;
        }
        shapes.push(shape);
        for k in 1..event.len() {
            for sub in &subs {
                let mut s = step.clone();
                s.0[e][k] = *sub;
                variants.push((format!("event {e} value {k} = {sub:?}"), s));
            }
            // notified with another value changed, as the cross checks need
            if event.len() == 21 {
                for sub in &subs {
                    let mut s = step.clone();
                    s.0[e][20] = Value::Bool(true);
                    s.0[e][k] = *sub;
                    variants.push((format!("event {e} notified, value {k} = {sub:?}"), s));
                }
            }
        }
        let mut short = step.clone();
        short.0[e].pop();
        variants.push((format!("event {e} one value short"), short));
        let mut long = step.clone();
        long.0[e].push(Value::Int(0));
        variants.push((format!("event {e} one value long"), long));
    }
    if bars && !step.1.is_empty() {
        for k in 0..step.1[0].len() {
            for sub in &subs {
                let mut s = step.clone();
                s.1[0][k] = *sub;
                variants.push((format!("bar 0 value {k} = {sub:?}"), s));
            }
        }
        let mut dup = step.clone();
        dup.1.push(step.1[0].clone());
        variants.push(("bar 0 twice".to_owned(), dup));
        let mut missing = step.clone();
        missing.1.pop();
        variants.push(("the last bar missing".to_owned(), missing));
        let mut short = step.clone();
        short.1[0].pop();
        variants.push(("bar 0 one value short".to_owned(), short));
    }
    for (what, variant) in &variants {
        both_ways(core, variant, &|| format!("{name}: {what}"));
        runs += 1;
    }
    runs
}

fn tuples(json: &Json) -> Vec<Vec<Value>> {
    json.as_array()
        .expect("a list of tuples")
        .iter()
        .map(|row| {
            row.as_array()
                .expect("a tuple")
                .iter()
                .map(json_value)
                .collect()
        })
        .collect()
}

#[test]
fn the_fast_path_replays_every_recording_as_the_checks_do() {
    let mut steps_run = 0;
    let mut malformed_runs = 0;
    for path in core_fixture_paths() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let rec: Json =
            serde_json::from_str(&fs::read_to_string(&path).expect("readable")).expect("JSON");
        let init = &rec["init"];
        let mut core = Core::new_raw([
            json_value(&init["cash"]),
            json_value(&init["checksubmit"]),
            json_value(&init["shortcash"]),
            json_value(&init["fundstartval"]),
        ])
        .expect("a valid init");
        let mut mutated = 0;
        for (c, call) in rec["calls"].as_array().expect("calls").iter().enumerate() {
            match call["call"].as_str().expect("a call kind") {
                "step" => {
                    let step: Step = (tuples(&call["events"]), tuples(&call["bars"]));
                    if !step.0.iter().chain(&step.1).flatten().all(packable) {
                        let _ = core.step_raw(&raw(&step.0), &raw(&step.1), &mut NoHooks);
                        continue;
                    }
                    // the malformed copies of the first steps with events the fast path reads
                    if mutated < 2 && step.0.iter().any(|e| fast_kind(e)) {
                        let mut shapes = Vec::new();
                        let name = format!("{name} call {c}");
                        malformed_runs += malformed(&core, &step, &name, &mut shapes, true);
                        mutated += 1;
                    }
                    core = both_ways(&core, &step, &|| format!("{name} call {c}")).0;
                    steps_run += 1;
                }
                "apply" => {
                    let _ = core.apply_raw(&raw(&tuples(&call["events"])));
                }
                "value_of" => {
                    let lever = call["lever"].as_bool().expect("lever");
                    let (datas, closes) =
                        (json_values(&call["datas"]), json_values(&call["closes"]));
                    let _ = core.value_of_raw(&datas, &closes, lever, &mut NoHooks);
                }
                other => panic!("unknown call {other}"),
            }
        }
    }
    assert!(steps_run > 100, "{steps_run} steps");
    assert!(malformed_runs > 10_000, "{malformed_runs} malformed steps");
}

/// The steps of a packed batch file, as values.
fn batch_steps(buf: &[u8]) -> Vec<Step> {
    decode_steps(buf)
        .expect("a well formed batch")
        .iter()
        .map(|step| {
            (
                step.events.iter().map(values).collect(),
                step.bars.iter().map(values).collect(),
            )
        })
        .collect()
}

fn bench_core() -> Core {
    // `bench.make_core_stream`'s init
    Core::new(Num::Float(10_000_000.0), true, true, Num::Float(100.0)).expect("a valid core")
}

/// `tests/data/core_stream_40.bin`: `packed.pack_steps(bench.make_core_stream(40).steps)`;
/// `BT_CRACKTRADER_BENCH_BATCH` names another batch of the same init (`/tmp/batch400.bin`)
/// to run too, without its malformed copies.
#[test]
fn the_fast_path_runs_the_bench_stream_as_the_checks_do() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core_stream_40.bin");
    let steps = batch_steps(&fs::read(path).expect("the bench stream"));
    assert_eq!(steps.len(), 40);
    let mut core = bench_core();
    let mut malformed_runs = 0;
    let mut shapes = Vec::new();
    for (k, step) in steps.iter().enumerate() {
        // every shape of event once (the stream has brackets every third step, OCO pairs
        // every other), the bars of two steps
        if k >= 4 {
            let name = format!("bench step {k}");
            malformed_runs += malformed(&core, step, &name, &mut shapes, k % 9 == 4 && k < 20);
        }
        let (next, ok) = both_ways(&core, step, &|| format!("bench step {k}"));
        assert!(ok, "bench step {k} failed");
        core = next;
    }
    assert!(malformed_runs > 10_000, "{malformed_runs} malformed steps");
    // the whole stream as one batch, as the benchmark sends it
    let mut fast = bench_core();
    fast.step_packed(&pack(&steps), &mut NoHooks)
        .expect("a valid batch");
    assert_eq!(fingerprint(&fast), fingerprint(&core));
    if let Ok(path) = std::env::var("BT_CRACKTRADER_BENCH_BATCH") {
        let mut core = bench_core();
        for (k, step) in batch_steps(&fs::read(path).expect("the batch"))
            .iter()
            .enumerate()
        {
            core = both_ways(&core, step, &|| format!("batch step {k}")).0;
        }
    }
}

/// Offsets of the values of a batch (of the kind byte of each).
fn value_offsets(buf: &[u8]) -> Vec<usize> {
    let u32_at = |pos: usize| u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
    let mut pos = 16;
    let mut out = Vec::new();
    for _ in 0..u32_at(12) {
        let items = u32_at(pos) + u32_at(pos + 4);
        pos += 8;
        for _ in 0..items {
            let len = u32_at(pos);
            pos += 4;
            out.extend((0..len).map(|k| pos + 9 * k));
            pos += 9 * len;
        }
    }
    assert_eq!(pos, buf.len());
    out
}

/// Offsets of the counts of a batch: of each step's event count, and of each item's length.
fn count_offsets(buf: &[u8]) -> (Vec<usize>, Vec<usize>) {
    let u32_at = |pos: usize| u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
    let mut pos = 16;
    let (mut steps, mut items) = (Vec::new(), Vec::new());
    for _ in 0..u32_at(12) {
        steps.push(pos);
        let n = u32_at(pos) + u32_at(pos + 4);
        pos += 8;
        for _ in 0..n {
            items.push(pos);
            pos += 4 + 9 * u32_at(pos);
        }
    }
    assert_eq!(pos, buf.len());
    (steps, items)
}

/// A batch whose frame is read as its steps run still fails as `packed.unpack_steps` does:
/// a wrong count or length anywhere, a byte missing or too many.
#[test]
fn a_malformed_frame_anywhere_is_the_batch_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core_stream_40.bin");
    let good = fs::read(path).expect("the bench stream");
    let mut steps = batch_steps(&good);
    steps[3]
        .0
        .push(vec![Value::Int(3), Value::Int(999_999), Value::Bool(false)]);
    let failing = pack(&steps);
    let mut runs = 0;
    for buf in [&good, &failing] {
        let (step_at, item_at) = count_offsets(buf);
        let mut bad: Vec<Vec<u8>> = Vec::new();
        let edit = |at: usize, delta: i64| {
            let mut out = buf.clone();
            let v = u32::from_le_bytes(out[at..at + 4].try_into().unwrap());
            let v = u32::try_from(i64::from(v) + delta).unwrap();
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
            out
        };
        bad.push(buf[..buf.len() - 1].to_vec());
        bad.push([buf.as_slice(), &[0]].concat());
        bad.push([buf.as_slice(), &[0; 9]].concat());
        bad.push(edit(12, 1));
        bad.push(edit(12, -1));
        for &at in step_at.iter().step_by(7) {
            bad.push(edit(at, 1));
            bad.push(edit(at + 4, -1));
        }
        for &at in item_at.iter().skip(3).step_by(97) {
            bad.push(edit(at, 1));
            bad.push(edit(at, -1));
        }
        for bad in bad {
            let Err(expected) = decode_steps(&bad) else {
                // a batch that reads as another well-formed one
                continue;
            };
            let mut core = bench_core();
            let before = fingerprint(&core);
            let Err(err) = core.step_packed(&bad, &mut NoHooks) else {
                panic!("a malformed batch ran: {expected:?}");
            };
            assert_eq!((err.step, err.error), (None, expected));
            assert_eq!(fingerprint(&core), before);
            runs += 1;
        }
    }
    assert!(runs > 50, "{runs} batches");
}

/// A batch whose values are checked as they are read still fails as `packed.unpack_steps`
/// does, before anything runs: a malformed value anywhere (after steps that ran, or after a
/// step that fails) is the batch's error, and the core is as it was.
#[test]
fn a_malformed_value_anywhere_is_the_batch_error() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/core_stream_40.bin");
    let good = fs::read(path).expect("the bench stream");
    let steps = batch_steps(&good);
    let offsets = value_offsets(&good);
    // a step that fails on its own: a cancel of an unknown ref in step 3
    let mut failing = steps;
    failing[3]
        .0
        .push(vec![Value::Int(3), Value::Int(999_999), Value::Bool(false)]);
    let failing = pack(&failing);
    let failing_offsets = value_offsets(&failing);
    let mut runs = 0;
    for (buf, offsets) in [(&good, &offsets), (&failing, &failing_offsets)] {
        for &at in offsets.iter().skip(5).step_by(211) {
            let mut corruptions: Vec<Vec<u8>> = Vec::new();
            let mut kind = buf.clone();
            kind[at] = 7;
            corruptions.push(kind);
            let mut none = buf.clone();
            none[at] = KIND_NONE;
            none[at + 1..at + 9].copy_from_slice(&5_i64.to_le_bytes());
            corruptions.push(none);
            let mut bool_payload = buf.clone();
            bool_payload[at] = KIND_BOOL;
            bool_payload[at + 1..at + 9].copy_from_slice(&2_i64.to_le_bytes());
            corruptions.push(bool_payload);
            let mut high = buf.clone();
            high[at] = KIND_BOOL;
            high[at + 1..at + 9].copy_from_slice(&(1_i64 << 40 | 1).to_le_bytes());
            corruptions.push(high);
            for bad in corruptions {
                let expected = decode_steps(&bad).expect_err("a malformed batch");
                let mut core = bench_core();
                let before = fingerprint(&core);
                let Err(err) = core.step_packed(&bad, &mut NoHooks) else {
                    panic!("value at {at}: a malformed batch ran");
                };
                assert_eq!(err.step, None, "value at {at}");
                assert_eq!(err.error, expected, "value at {at}");
                assert_eq!(fingerprint(&core), before, "value at {at}");
                // with a callable, everything is checked before anything runs
                let mut hooks = TestHooks::default();
                hooks.filler_on = true;
                let Err(err) = core.step_packed(&bad, &mut hooks) else {
                    panic!("value at {at}: a malformed batch ran");
                };
                assert_eq!((err.step, err.error), (None, expected), "value at {at}");
                assert!(hooks.take_log().is_empty(), "value at {at}");
                runs += 1;
            }
        }
    }
    assert!(runs > 200, "{runs} batches");
    // without the malformed value, the failing step is the error
    let mut core = bench_core();
    let Err(err) = core.step_packed(&failing, &mut NoHooks) else {
        panic!("an unknown ref ran");
    };
    assert_eq!(err.step, Some(3));
    assert!(
        err.error.to_string().contains("unknown order ref"),
        "{err:?}"
    );
}

fn data_event(data: i128, compensate: i128) -> Vec<Value> {
    let f = Value::Float;
    vec![
        Value::Int(0),
        Value::Int(data),
        Value::Bool(true),
        Value::Bool(true),
        f(0.001),
        f(1.0),
        f(0.0),
        f(0.0),
        f(1.0),
        f(0.0),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(compensate),
    ]
}

fn bar(data: i128) -> Vec<Value> {
    let mut bar = vec![Value::Int(data), Value::Float(730_000.5)];
    bar.extend([Value::Float(100.0); 12]);
    bar.push(Value::Int(730_000));
    bar
}

/// Input error `(field, reason, value)` of a step, run both ways.
fn refusal(core: &Core, step: &Step) -> (String, String, String) {
    let (_, ok) = both_ways(core, step, &|| "many datas".to_owned());
    assert!(!ok, "refused");
    match core
        .clone()
        .step_raw(&raw(&step.0), &raw(&step.1), &mut NoHooks)
    {
        Err(CoreError::Input(e)) => (e.what, e.field, format!("{} {:?}", e.reason, e.value)),
        other => panic!("{other:?}"),
    }
}

/// More datas than validation tracks on the stack, registered out of order, some compensating
/// others: bars in any order, a missing, unknown or duplicate bar, an unknown compensate
/// target (of a new data or of one the core has).
#[test]
fn many_datas_and_their_bars() {
    let n = 40;
    let mut core = bench_core();
    let register: Vec<Vec<Value>> = (0..n)
        .rev()
        .map(|d| data_event(d, if d % 3 == 0 { (d + 7) % n } else { -1 }))
        .collect();
    let all_bars: Vec<Vec<Value>> = (0..n).map(|d| bar((d * 17) % n)).collect();
    let (next, ok) = both_ways(&core, &(register, all_bars.clone()), &|| {
        "register".to_owned()
    });
    assert!(ok);
    core = next;
    let (next, ok) = both_ways(&core, &(vec![], all_bars.clone()), &|| "bars".to_owned());
    assert!(ok);
    core = next;
    let missing: Vec<Vec<Value>> = all_bars
        .iter()
        .filter(|b| !matches!(b[0], Value::Int(5 | 17)))
        .cloned()
        .collect();
    assert_eq!(
        refusal(&core, &(vec![], missing)),
        (
            "bars".into(),
            "data".into(),
            "no bar for a registered data Int(5)".into()
        )
    );
    let mut unknown = all_bars.clone();
    unknown.push(bar(n));
    assert_eq!(
        refusal(&core, &(vec![], unknown)).2,
        format!("unknown data Int({n})")
    );
    let mut twice = all_bars.clone();
    twice.push(bar(3));
    assert_eq!(
        refusal(&core, &(vec![], twice)).2,
        "duplicate bar Int(3)".to_owned()
    );
    // a new data compensating an unknown one
    assert_eq!(
        refusal(&core, &(vec![data_event(n, n + 5)], all_bars.clone())),
        (
            format!("data {n}"),
            "compensate".into(),
            format!("unknown data Int({})", n + 5)
        )
    );
    // a new data, and one the core has now compensating it
    let mut with_new = all_bars;
    with_new.push(bar(n));
    let (_, ok) = both_ways(
        &core,
        &(vec![data_event(n, -1), data_event(4, n)], with_new),
        &|| "compensate a new data".to_owned(),
    );
    assert!(ok);
}
