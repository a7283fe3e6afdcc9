//! Packed batches (`Core::step_packed`, layout in `bt_cracktrader/core/packed.py`): every golden
//! recording of `fixtures/core/` is replayed twice, one call at a time and with each run of
//! `step` calls sent as one packed batch; the records and states of every step must be the same
//! (types and bits). A batch that fails leaves the core as it was.

mod common;

use std::fs;
use std::path::Path;

use common::{
    core_fixture_paths, json_value, json_values, pack, record_items, state_items, Cursor, Item,
    Step,
};
use cracktrader_core::{Core, CoreError, NoHooks, RawItem, Value, PACKED_VERSION, RESULTS_MAGIC};
use serde_json::Value as Json;

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

/// Every step's `(records, state)` from a results buffer.
fn unpack(buf: &[u8]) -> Vec<(Vec<Vec<Item>>, Vec<Item>)> {
    let mut cur = Cursor { buf, pos: 0 };
    assert_eq!(cur.take(8), RESULTS_MAGIC);
    assert_eq!(cur.u32(), PACKED_VERSION as usize);
    let out = (0..cur.u32())
        .map(|_| {
            let records = (0..cur.u32()).map(|_| cur.item()).collect();
            (records, cur.item())
        })
        .collect();
    assert_eq!(cur.pos, buf.len(), "trailing bytes");
    out
}

fn raw(items: &[Vec<Value>]) -> Vec<RawItem> {
    items.iter().map(|v| RawItem::from_values(v)).collect()
}

fn new_core(rec: &Json) -> Core {
    let init = &rec["init"];
    Core::new_raw([
        json_value(&init["cash"]),
        json_value(&init["checksubmit"]),
        json_value(&init["shortcash"]),
        json_value(&init["fundstartval"]),
    ])
    .expect("a valid init")
}

/// Replay `rec`, sending each run of successful `step` calls of at most `batch` steps as one
/// packed batch; returns every step's records and state.
fn replay(rec: &Json, batch: usize) -> Vec<(Vec<Vec<Item>>, Vec<Item>)> {
    let mut core = new_core(rec);
    let mut out = Vec::new();
    let mut pending: Vec<Step> = Vec::new();
    let flush = |core: &mut Core, pending: &mut Vec<Step>, out: &mut Vec<_>| {
        if pending.is_empty() {
            return;
        }
        if batch == 1 {
            for (events, bars) in pending.drain(..) {
                let records = core
                    .step_raw(&raw(&events), &raw(&bars), &mut NoHooks)
                    .expect("a recorded step");
                out.push((
                    records.iter().map(record_items).collect(),
                    state_items(&core.state()),
                ));
            }
        } else {
            let buf = core
                .step_packed(&pack(pending), &mut NoHooks)
                .expect("a recorded batch");
            out.extend(unpack(&buf));
            pending.clear();
        }
    };
    for call in rec["calls"].as_array().expect("calls") {
        let kind = call["call"].as_str().expect("a call kind");
        if kind == "step" && call.get("error").is_none() {
            pending.push((tuples(&call["events"]), tuples(&call["bars"])));
            if pending.len() == batch {
                flush(&mut core, &mut pending, &mut out);
            }
            continue;
        }
        flush(&mut core, &mut pending, &mut out);
        // other calls (and refused steps) one at a time, their outcome checked elsewhere
        match kind {
            "step" => {
                let _ = core.step_raw(
                    &raw(&tuples(&call["events"])),
                    &raw(&tuples(&call["bars"])),
                    &mut NoHooks,
                );
            }
            "apply" => {
                let _ = core.apply_raw(&raw(&tuples(&call["events"])));
            }
            "value_of" => {
                let lever = call["lever"].as_bool().expect("lever");
                let (datas, closes) = (json_values(&call["datas"]), json_values(&call["closes"]));
                let _ = core.value_of_raw(&datas, &closes, lever, &mut NoHooks);
            }
            other => panic!("unknown call {other}"),
        }
    }
    flush(&mut core, &mut pending, &mut out);
    out
}

fn load(path: &Path) -> Json {
    serde_json::from_str(&fs::read_to_string(path).expect("readable")).expect("JSON")
}

#[test]
fn packed_batches_replay_every_recording_as_single_steps_do() {
    for path in core_fixture_paths() {
        let rec = load(&path);
        let single = replay(&rec, 1);
        assert!(!single.is_empty(), "{}: no step", path.display());
        for batch in [2, 7, usize::MAX] {
            let packed = replay(&rec, batch);
            assert!(
                packed == single,
                "{}: batches of {batch} differ from single steps",
                path.display()
            );
        }
    }
}

fn recorded_steps(rec: &Json) -> Vec<Step> {
    rec["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .take_while(|call| call["call"] == "step" && call.get("error").is_none())
        .map(|call| (tuples(&call["events"]), tuples(&call["bars"])))
        .collect()
}

#[test]
fn a_failing_batch_leaves_the_core_as_it_was() {
    let rec = load(&core_fixture_paths()[0]);
    let mut steps = recorded_steps(&rec);
    assert!(steps.len() > 3);
    let mut core = new_core(&rec);
    core.step_packed(&pack(&steps[..2]), &mut NoHooks)
        .expect("valid steps");
    let before = core.snapshot();
    // step 3 of the next batch registers a data with a NaN commission
    let mut bad = steps.split_off(2);
    bad.truncate(4);
    let nan = vec![
        Value::Int(0),
        Value::Int(0),
        Value::Bool(true),
        Value::Bool(true),
        Value::Float(f64::NAN),
        Value::Float(1.0),
        Value::Float(0.0),
        Value::Float(0.0),
        Value::Float(1.0),
        Value::Float(0.0),
        Value::Bool(false),
        Value::Int(0),
        Value::Int(-1),
    ];
    bad[3].0.push(nan);
    let err = core
        .step_packed(&pack(&bad), &mut NoHooks)
        .expect_err("a NaN commission");
    assert_eq!(err.step, Some(3));
    assert!(matches!(err.error, CoreError::Input(ref e) if e.field == "commission"));
    assert!(core.snapshot() == before, "the core changed");
}

#[test]
fn malformed_batches_are_refused_before_anything_runs() {
    let rec = load(&core_fixture_paths()[0]);
    let good = pack(&recorded_steps(&rec)[..3]);
    let mut core = new_core(&rec);
    let before = core.snapshot();
    let message = |buf: &[u8], core: &mut Core| {
        let err = core.step_packed(buf, &mut NoHooks).expect_err("refused");
        assert_eq!(err.step, None);
        err.error.to_string()
    };
    let mut magic = good.clone();
    magic[0] = b'X';
    assert!(message(&magic, &mut core).starts_with("invalid packed batch: magic = '58"));
    let mut version = good.clone();
    version[8] = 9;
    assert_eq!(
        message(&version, &mut core),
        "invalid packed batch: version = 9 (unsupported: this core reads version 1)"
    );
    let truncated = &good[..good.len() - 1];
    assert!(message(truncated, &mut core).contains("truncated: a value needs 9 bytes"));
    let mut trailing = good.clone();
    trailing.push(0);
    assert_eq!(
        message(&trailing, &mut core),
        format!(
            "invalid packed batch: length = {} (1 bytes after the last step)",
            good.len() + 1
        )
    );
    let mut kind = good.clone();
    kind[16 + 8 + 4] = 7; // the first value of the first event
    assert_eq!(
        message(&kind, &mut core),
        "invalid packed batch: kind = 7 (unknown value kind at offset 28)"
    );
    assert!(core.snapshot() == before, "the core changed");
}

#[test]
fn malformed_items_fail_in_a_batch_as_in_single_steps() {
    let rec = load(&core_fixture_paths()[0]);
    let steps = recorded_steps(&rec);
    // the first step with events and bars, after the steps that registered its datas
    let at = steps
        .iter()
        .position(|(events, bars)| !events.is_empty() && !bars.is_empty())
        .expect("a step with events and bars");
    let (prefix, (events, bars)) = (&steps[..at], steps[at].clone());
    let with_event = |event: Vec<Value>| -> Step {
        let mut events = events.clone();
        events.push(event);
        (events, bars.clone())
    };
    let with_bar = |edit: &dyn Fn(&mut Vec<Value>)| -> Step {
        let mut bars = bars.clone();
        edit(&mut bars[0]);
        (events.clone(), bars)
    };
    let long = |mut values: Vec<Value>, len: usize| {
        values.resize(len, Value::Int(0));
        values
    };
    let bad_steps: Vec<Step> = vec![
        with_event(long(events[0].clone(), 25)),
        with_event(long(vec![Value::Int(2)], 30)),
        with_event(long(vec![Value::Int(2)], 21)),
        with_event(vec![]),
        with_event(vec![Value::Float(0.0)]),
        with_event(vec![Value::None, Value::Int(1)]),
        with_event(vec![Value::Int(99)]),
        with_bar(&|bar| bar.resize(30, Value::Float(1.0))),
        with_bar(&|bar| bar.truncate(14)),
        with_bar(&|bar| bar[0] = Value::Float(0.0)),
        with_bar(&|bar| bar[1] = Value::Bool(true)),
        with_bar(&|bar| bar[5] = Value::None),
        with_bar(&|bar| bar[14] = Value::Float(1.5)),
    ];
    for bad in bad_steps {
        let mut batch = prefix.to_vec();
        batch.push(bad.clone());
        let mut single = new_core(&rec);
        for (events, bars) in prefix {
            single
                .step_raw(&raw(events), &raw(bars), &mut NoHooks)
                .expect("a recorded step");
        }
        let expected = single
            .step_raw(&raw(&bad.0), &raw(&bad.1), &mut NoHooks)
            .expect_err("a malformed step");
        assert!(matches!(expected, CoreError::Input(_)), "{expected:?}");
        let mut core = new_core(&rec);
        let before = core.snapshot();
        let err = core
            .step_packed(&pack(&batch), &mut NoHooks)
            .expect_err("a malformed batch");
        assert_eq!(err.step, Some(at));
        assert_eq!(err.error, expected);
        assert!(core.snapshot() == before, "the core changed");
        // the decoded batch holds the same items
        let decoded = cracktrader_core::decode_steps(&pack(&batch)).expect("a well formed batch");
        assert_eq!(decoded[at].events, raw(&bad.0));
        assert_eq!(decoded[at].bars, raw(&bad.1));
    }
}
